/**
 * Fault suite, part `db-cut`: Postgres cut off from the API and the worker for 30 s refused, then
 * 30 s black-holed, through a TCP proxy, under a steady request load. Every request during a cut
 * must answer 503 (never a 500) within 3 s; after each cut the first success should come within
 * 2 s; every write acknowledged (201) at any time must be in Postgres at the end.
 *
 * The engine runs as production runs it: the Temporal dev server, `src/api/server.ts` and
 * `src/worker.ts` as separate processes, their DATABASE_URL through the proxy; a scratch database
 * on the local Postgres; SMTP/SMS sinks in this process.
 *
 * `tsx tools/chaos/parts/db-cut.ts` prints the JSON summary and exits non-zero on failure.
 * Durations: CHAOS_CUT_SECONDS (30), CHAOS_STEADY_SECONDS (5), CHAOS_CLIENTS (4).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount } from '../../../src/accounts/accounts';
import { startDevPeers } from '../../../src/dev/peers';
import { PROJECT_ROOT, TOOLS_DIR } from '../../../src/paths';
import { resolveTemporalCli } from '../../../src/temporal/cli-binary';
import { searchAttributeFlags } from '../../../src/temporal/search-attributes';
import { freePorts } from '../../../test/helpers/ports';
import { type ProxyMode, startTcpProxy } from '../../../test/helpers/tcp-proxy';
import { scratchDatabase } from '../engine';
import { until } from '../wait';

const number = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const CUT_MS = number('CHAOS_CUT_SECONDS', 30) * 1000;
const STEADY_MS = number('CHAOS_STEADY_SECONDS', 5) * 1000;
const CLIENTS = number('CHAOS_CLIENTS', 4);
/** The goals of issue 15. */
const MAX_LATENCY_MS = 3000;
const RECOVERY_GOAL_MS = 2000;
/** Each client's pause between requests: a steady load, not a flood of a 2-core machine. */
const PACE_MS = 50;
const READY_MS = 180_000;

interface Sample {
  kind: string;
  started: number;
  ended: number;
  status: number;
}

interface Summary {
  part: string;
  ok: boolean;
  failures: string[];
  [figure: string]: unknown;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? null
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null);

export async function run(): Promise<Summary> {
  const failures: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  const logs: Record<string, string[]> = {};
  try {
    // A scratch database, migrated directly (not through the proxy).
    const database = await scratchDatabase('paylinks_chaos_dbcut');
    cleanups.push(() => database.drop());
    const { db } = database;
    const direct = new URL(database.url);
    const account = await createAccount(db, 'Chaos db-cut shop');

    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(direct.toString());
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);

    const sinks = await startDevPeers();
    cleanups.push(() => sinks.stop());
    const binary = await resolveTemporalCli({
      explicitPath: process.env.TEMPORAL_CLI_PATH,
      toolsDir: TOOLS_DIR,
      onProgress: (line) => console.error(line),
    });
    const dir = mkdtempSync(join(tmpdir(), 'paylinks-dbcut-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [temporalPort, apiPort] = (await freePorts(2)) as [number, number];
    const address = `127.0.0.1:${temporalPort}`;
    const baseUrl = `http://127.0.0.1:${apiPort}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      PORT: String(apiPort),
      PUBLIC_BASE_URL: baseUrl,
      DATABASE_URL: viaProxy.toString(),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: `chaos-dbcut-${randomBytes(4).toString('hex')}`,
      SMTP_URL: sinks.smtp.url,
      TWILIO_ACCOUNT_SID: sinks.twilio.accountSid,
      TWILIO_AUTH_TOKEN: sinks.twilio.authToken,
      TWILIO_FROM: sinks.smsFrom,
      TWILIO_API_BASE_URL: sinks.twilioBaseUrl,
      // The load is one account and a handful of addresses: rate limits (429) are not measured here.
      RATE_LIMIT_PUBLIC_PER_MINUTE: '1000000',
      RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000000',
    };
    let polling = false;
    const start = (role: string, command: string, args: string[]) => {
      const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const output: string[] = [];
      logs[role] = output;
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          if (line.includes('worker polling task queue')) polling = true;
          output.push(line);
          if (output.length > 50) output.shift();
        }
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      children.push(child);
      return child;
    };
    const tsx = ['--import', 'tsx'];
    start('temporal', binary, [
      ...['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(temporalPort), '--headless'],
      ...['--log-level', 'error', '--db-filename', join(dir, 'temporal.db'), ...searchAttributeFlags()],
    ]);
    // The API answers /readyz only once Temporal does, so it starts after the dev server is up.
    await until(
      async () => {
        const { Connection } = await import('@temporalio/client');
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        await connection.close();
        return true;
      },
      READY_MS,
      'the Temporal dev server',
    );
    start('api', process.execPath, [...tsx, 'src/api/server.ts']);
    const worker = start('worker', process.execPath, [...tsx, 'src/worker.ts']);
    await until(
      async () => ((await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined),
      READY_MS,
      'the API to be ready',
    );
    await until(
      async () => {
        if (worker.exitCode !== null) throw new Error(`the worker exited: ${logs.worker?.join('\n')}`);
        return polling ? true : undefined;
      },
      READY_MS,
      'the worker to poll',
    );

    const auth = { authorization: `Bearer ${account.apiKey}` };
    const post = (path: string, body: unknown) =>
      fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const first = await post('/v1/payment_links', { amount: 1500, currency: 'EUR', description: 'db-cut' });
    if (first.status !== 201) throw new Error(`the first link was not created: ${first.status}`);
    const link = (await first.json()) as { id: string; url: string };
    const pagePath = new URL(link.url).pathname;

    // The load: each client cycles through an authenticated read, two writes and the public page.
    const samples: Sample[] = [];
    const acknowledged = { customers: [] as string[], links: [link.id] };
    const kinds = ['get_link', 'create_customer', 'public_page', 'create_link'] as const;
    let running = true;
    let sequence = 0;
    const send = async (kind: (typeof kinds)[number]): Promise<number> => {
      const n = sequence++;
      // A cut-off request still answers: the fetch's own limit only guards against a true hang.
      const signal = AbortSignal.timeout(30_000);
      switch (kind) {
        case 'get_link':
          return (await fetch(`${baseUrl}/v1/payment_links/${link.id}`, { headers: auth, signal })).status;
        case 'public_page': {
          const res = await fetch(`${baseUrl}${pagePath}`, {
            // Many customers, not one: the per-IP page limit (429) is not what this part measures.
            headers: { 'accept-language': 'de', 'x-forwarded-for': `198.51.100.${n % 250}` },
            signal,
          });
          const html = await res.text();
          if (res.status === 503 && !(res.headers.get('content-type') ?? '').startsWith('text/html'))
            failures.push(`the public page answered 503 without HTML: ${html.slice(0, 100)}`);
          if (res.status === 503 && !res.headers.get('retry-after'))
            failures.push('the public page answered 503 without Retry-After');
          return res.status;
        }
        case 'create_customer': {
          const res = await post('/v1/customers', { name: `Load ${n}` });
          if (res.status === 201) acknowledged.customers.push(((await res.json()) as { id: string }).id);
          else await checkUnavailable(res, kind);
          return res.status;
        }
        case 'create_link': {
          const res = await post('/v1/payment_links', {
            amount: 100 + n,
            currency: 'EUR',
            description: `Load ${n}`,
          });
          if (res.status === 201) acknowledged.links.push(((await res.json()) as { id: string }).id);
          else await checkUnavailable(res, kind);
          return res.status;
        }
      }
    };
    const checkUnavailable = async (res: Response, kind: string) => {
      if (res.status !== 503) return;
      if (!res.headers.get('retry-after')) failures.push(`${kind}: 503 without Retry-After`);
      const body = (await res.json().catch(() => undefined)) as { error?: { code?: string } } | undefined;
      if (body?.error?.code !== 'service_unavailable')
        failures.push(`${kind}: 503 body ${JSON.stringify(body)}`);
    };
    const client = async (offset: number) => {
      for (let i = offset; running; i++) {
        const kind = kinds[i % kinds.length] as (typeof kinds)[number];
        const started = performance.now();
        let status: number;
        try {
          status = await send(kind);
        } catch {
          status = 0; // no answer at all (reset, or the 30 s guard)
        }
        samples.push({ kind, started, ended: performance.now(), status });
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    };
    const load = Array.from({ length: CLIENTS }, (_, i) => client(i));
    const steady = () => new Promise((r) => setTimeout(r, STEADY_MS));

    const cuts: Record<string, unknown> = {};
    const cut = async (mode: ProxyMode) => {
      await steady();
      const from = performance.now();
      await proxy.setMode(mode);
      await new Promise((r) => setTimeout(r, CUT_MS));
      const passAt = performance.now();
      await proxy.setMode('pass');
      await steady();
      // Requests sent and answered within the cut; those that straddle its edges are left out.
      const during = samples.filter((s) => s.started >= from && s.ended <= passAt);
      const statuses: Record<string, number> = {};
      for (const s of during) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
      const latencies = during.map((s) => s.ended - s.started).sort((a, b) => a - b);
      const recovered = samples
        .filter((s) => s.started >= passAt && s.status >= 200 && s.status < 300)
        .sort((a, b) => a.ended - b.ended)[0];
      const afterPass = samples.filter(
        (s) => s.started >= passAt && (!recovered || s.started < recovered.started),
      );
      const figures = {
        requests: during.length,
        statuses,
        latency_ms: {
          p50: Math.round(percentile(latencies, 50) ?? 0),
          p99: Math.round(percentile(latencies, 99) ?? 0),
          max: Math.round(latencies.at(-1) ?? 0),
        },
        recovery_ms: recovered ? Math.round(recovered.ended - passAt) : null,
        failed_after_pass: afterPass.length,
      };
      cuts[mode] = figures;
      if (during.length === 0) failures.push(`${mode}: no request was answered during the cut`);
      const wrong = Object.keys(statuses).filter((s) => s !== '503');
      if (wrong.length > 0)
        failures.push(`${mode}: statuses other than 503 during the cut: ${JSON.stringify(statuses)}`);
      if ((latencies.at(-1) ?? 0) > MAX_LATENCY_MS)
        failures.push(
          `${mode}: a request took ${Math.round(latencies.at(-1) ?? 0)} ms during the cut (limit ${MAX_LATENCY_MS})`,
        );
      if (!recovered) failures.push(`${mode}: no request succeeded within ${STEADY_MS} ms after the cut`);
      else if (figures.recovery_ms !== null && figures.recovery_ms > RECOVERY_GOAL_MS)
        failures.push(
          `${mode}: first success ${figures.recovery_ms} ms after the cut (goal ${RECOVERY_GOAL_MS})`,
        );
    };
    await cut('refuse');
    await cut('blackhole');
    running = false;
    await Promise.all(load);

    // Loss: every acknowledged write is stored (read directly, not through the proxy). A link
    // acknowledged from its terms while the worker could not write is stored once it can.
    const missing = async () => {
      const customers = new Set(
        (await db('customers').whereIn('id', acknowledged.customers).pluck('id')) as string[],
      );
      const links = new Set(
        (await db('payment_links').whereIn('id', acknowledged.links).pluck('id')) as string[],
      );
      return [
        ...acknowledged.customers.filter((id) => !customers.has(id)),
        ...acknowledged.links.filter((id) => !links.has(id)),
      ];
    };
    let lost = await missing();
    if (lost.length > 0)
      lost = await until(
        async () => ((await missing()).length === 0 ? [] : undefined),
        60_000,
        'late rows',
      ).catch(() => missing());
    if (lost.length > 0) failures.push(`lost acknowledged writes: ${lost.slice(0, 10).join(', ')}`);
    const unanswered = samples.filter((s) => s.status === 0).length;
    if (unanswered > 0) failures.push(`${unanswered} requests got no HTTP answer at all`);
    const fiveHundreds = samples.filter((s) => s.status >= 500 && s.status !== 503).length;
    if (fiveHundreds > 0) failures.push(`${fiveHundreds} answers were a 5xx other than 503`);

    return {
      part: 'db-cut',
      ok: failures.length === 0,
      failures: failures.slice(0, 20),
      cut_seconds: CUT_MS / 1000,
      clients: CLIENTS,
      requests: samples.length,
      refuse: cuts.refuse,
      blackhole: cuts.blackhole,
      acknowledged_writes: acknowledged.customers.length + acknowledged.links.length,
      lost: lost.length,
    };
  } catch (err) {
    return {
      part: 'db-cut',
      ok: false,
      failures: [
        `the part crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        ...Object.entries(logs).map(([role, lines]) => `${role}: ${lines.slice(-5).join(' | ')}`),
      ],
    };
  } finally {
    // SIGTERM: the API closes, the worker drains; the dev server last.
    for (const child of children.slice(1).concat(children.slice(0, 1))) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(force);
    }
    process.off('exit', killAll);
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const summary = await run();
  console.log(JSON.stringify(summary));
  process.exit(summary.ok ? 0 : 1);
}
