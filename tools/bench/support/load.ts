/**
 * Load drivers shared by the benches: a closed loop of `concurrency` callers for a fixed time
 * (the model autocannon uses for HTTP: each caller sends its next request when the last one
 * answered), latency percentiles, and autocannon with every response's latency kept.
 */
import autocannon from 'autocannon';

export interface Segment {
  /** Latency of every successful operation, in milliseconds. */
  latenciesMs: number[];
  errors: number;
  /** Why operations failed, by message (status code or error), counted. */
  errorKinds: Record<string, number>;
  elapsedMs: number;
}

/** Runs `op` from `concurrency` callers, each starting its next call when the last one ended, for `durationMs`. */
export async function closedLoop(
  op: (caller: number) => Promise<void>,
  { concurrency, durationMs }: { concurrency: number; durationMs: number },
): Promise<Segment> {
  const latenciesMs: number[] = [];
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op(caller);
          latenciesMs.push(performance.now() - t0);
        } catch (err) {
          errors += 1;
          const kind = err instanceof Error ? err.message.slice(0, 120) : String(err);
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
      }
    }),
  );
  return { latenciesMs, errors, errorKinds, elapsedMs: performance.now() - started };
}

/** autocannon against one URL for `durationMs` with `connections` connections, every latency kept. */
export async function cannon(
  url: string,
  { connections, durationMs }: { connections: number; durationMs: number },
): Promise<Segment> {
  const latenciesMs: number[] = [];
  const errorKinds: Record<string, number> = {};
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: durationMs / 1000 }, (err, r) =>
      err ? reject(err) : resolve(r),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTime);
      else errorKinds[`HTTP ${statusCode}`] = (errorKinds[`HTTP ${statusCode}`] ?? 0) + 1;
    });
  });
  const nonOk = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  if (result.errors > 0) errorKinds['connection errors'] = result.errors;
  if (result.timeouts > 0) errorKinds.timeouts = result.timeouts;
  return {
    latenciesMs,
    errors: nonOk + result.errors + result.timeouts,
    errorKinds,
    elapsedMs: result.duration * 1000,
  };
}

/** Several segments of the same side (alternating rounds) as one. */
export function merge(segments: Segment[]): Segment {
  const errorKinds: Record<string, number> = {};
  for (const s of segments)
    for (const [k, n] of Object.entries(s.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + n;
  return {
    latenciesMs: segments.flatMap((s) => s.latenciesMs),
    errors: segments.reduce((n, s) => n + s.errors, 0),
    errorKinds,
    elapsedMs: segments.reduce((n, s) => n + s.elapsedMs, 0),
  };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface Figures {
  /** Successful operations per second. */
  rate: number;
  p50: number;
  p99: number;
  count: number;
  errors: number;
  errorKinds: Record<string, number>;
}

export function figuresOf(s: Segment): Figures {
  return {
    rate: s.latenciesMs.length / (s.elapsedMs / 1000),
    p50: percentile(s.latenciesMs, 50),
    p99: percentile(s.latenciesMs, 99),
    count: s.latenciesMs.length,
    errors: s.errors,
    errorKinds: s.errorKinds,
  };
}

/**
 * Subject and baseline in alternating rounds (A B, B A, A B…), so load from anything else on
 * the machine falls on both; `between` runs after each segment, outside the timing.
 */
export async function alternate<K extends string>(
  sides: Record<K, () => Promise<Segment>>,
  rounds: number,
  between: (side: K) => Promise<void> = async () => {},
): Promise<Record<K, Figures>> {
  const names = Object.keys(sides) as K[];
  const collected = Object.fromEntries(names.map((n) => [n, [] as Segment[]])) as Record<K, Segment[]>;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const side of order) {
      collected[side].push(await sides[side]());
      await between(side);
    }
  }
  return Object.fromEntries(names.map((n) => [n, figuresOf(merge(collected[n]))])) as Record<K, Figures>;
}
