/**
 * Waits of the fault suite: on conditions, polled at a pace, never a fixed sleep. The polling is
 * the tests' own (test/helpers/wait.ts); a check that throws is tried again until it times out.
 */
import { GiveUp, poll } from '../../test/helpers/wait';

/** Thrown by a check when waiting longer cannot help (the process it waits on has exited). */
export { GiveUp };

/** Polls `check` until it gives a value; a paced wait between polls, never a fixed sleep. */
export function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<T> {
  return poll(check, { timeoutMs, what, everyMs, retryErrors: true });
}
