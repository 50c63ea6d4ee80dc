/** Waits of the fault suite: on conditions, polled at a pace, never a fixed sleep. */

/** Thrown by a check when waiting longer cannot help (the process it waits on has exited). */
export class GiveUp extends Error {}

/** Polls `check` until it gives a value; a paced wait between polls, never a fixed sleep. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
