/**
 * The campaign run's steps wait as the first release's single async function awaited
 * (workflows/campaign/steps.ts): resumed in the same microtask, so state that other promises
 * change in microtasks (a page leaving the running set) reads the same, and replay issues the
 * same commands. An extra async boundary would read it a microtask later; the last case shows
 * the difference is real.
 */
import { describe, expect, it } from 'vitest';
import { follow, result, type Step } from '../../workflows/campaign/steps';

/**
 * An activity and a page settle in the same activation, the activity first; the page leaves the
 * running set in its `finally`, as RunningPages does. What the run reads right after the activity
 * is what decides its next command.
 */
async function race(read: (activity: Promise<string>, running: () => number) => Promise<number>) {
  const running = new Set([1]);
  let settleActivity = (_: string) => {};
  let settlePage = () => {};
  const activity = new Promise<string>((resolve) => {
    settleActivity = resolve;
  });
  void new Promise<void>((resolve) => {
    settlePage = resolve;
  }).finally(() => running.delete(1));
  const seen = read(activity, () => running.size);
  settleActivity('claimed');
  settlePage();
  return seen;
}

describe('campaign run steps', () => {
  it('resume where an await would: the run reads what the first release read', async () => {
    const awaited = await race(async (activity, running) => {
      await activity;
      return running();
    });
    const stepped = await race((activity, running) =>
      follow(
        (function* (): Step<number> {
          yield activity;
          return running();
        })(),
      ),
    );
    expect(awaited).toBe(1);
    expect(stepped).toBe(awaited);
  });

  it('give the value waited for, and throw a rejection where the step waited', async () => {
    const seen: unknown[] = [];
    function* inner(): Step<string> {
      const value = yield* result(Promise.resolve('zones scheduled'));
      seen.push(value);
      try {
        yield Promise.reject(new Error('activity failed'));
      } catch (err) {
        seen.push((err as Error).message);
      }
      return 'next';
    }
    function* outer(): Step<string> {
      const next = yield* inner();
      yield Promise.reject(new Error('page failed for good'));
      return next;
    }
    await expect(follow(outer())).rejects.toThrow('page failed for good');
    expect(seen).toEqual(['zones scheduled', 'activity failed']);
  });

  it('(why steps, not async methods) an async boundary reads a microtask later', async () => {
    const throughAsyncStep = await race(async (activity, running) => {
      const step = async () => {
        await activity;
      };
      await step();
      return running();
    });
    expect(throughAsyncStep).toBe(0);
  });
});
