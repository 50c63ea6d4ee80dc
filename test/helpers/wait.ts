/**
 * Waiting on conditions, never on sleeps. Free of vitest, so the tools (tools/chaos,
 * tools/bench) wait the same way the tests do.
 */

/**
 * How long a test waits for something that must happen. Generous: on a loaded 2-core machine
 * (CI beside another stack, `npm run test:stress`) a wait may take many times its usual
 * seconds, and a test should fail only when the thing never happens. vitest's testTimeout is
 * well above it, so a test that does fail names the condition it waited for.
 */
export const WAIT_MS = 45_000;

/** Thrown by a check when waiting longer cannot help (the process it waits on has exited). */
export class GiveUp extends Error {}

export interface PollOptions {
  timeoutMs?: number;
  /** What is waited for, named in the failure. */
  what?: string;
  /** The pause between two checks. */
  everyMs?: number;
  /**
   * A check that throws is tried again (a server not listening yet), and its last error is named
   * if time runs out; a GiveUp still ends the wait at once. Off: the first error is the failure.
   */
  retryErrors?: boolean;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function poll<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = WAIT_MS, what = 'condition', everyMs = 100, retryErrors = false }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (!retryErrors || err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = WAIT_MS,
  what = 'condition',
): Promise<T> {
  return poll(check, { timeoutMs, what });
}

/** `promise`, or a failure naming `what` once `timeoutMs` has passed. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
