/**
 * How the run's steps wait. A step is a generator: `yield promise` waits for the promise as
 * `await promise` would, and `yield* step()` runs another step inline. `follow` drives one to its
 * end, resuming it in the very microtask the awaited promise settles in.
 *
 * Why not async methods: every `await asyncStep()` boundary moves the caller's next line a
 * microtask later, and a run reads state that other promises change in microtasks (a page that
 * ended leaves `RunningPages`, a finished update leaves `allHandlersFinished`). Read a microtask
 * later, that state can differ and the run issues other commands than the recorded histories
 * (test/fixtures/campaign-histories) hold. With generators the run waits exactly where the
 * first release awaited, so splitting it into steps changed no command; keep it so, and put a
 * change to what a run issues behind `patched()` (docs/WORKFLOW-VERSIONS.md).
 */

/** A step of the run: yields what it waits for, returns `T`. */
export type Step<T = void> = Generator<unknown, T, unknown>;

/** Waits for `promise` inside a step and gives its value, typed: `const x = yield* result(p)`. */
export function* result<T>(promise: Promise<T>): Step<T> {
  return (yield promise) as T;
}

/** Runs `step` to its end; a rejected wait is thrown into the step where it waited. */
export async function follow<T>(step: Step<T>): Promise<T> {
  let next = step.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = await next.value;
    } catch (err) {
      next = step.throw(err);
      continue;
    }
    next = step.next(value);
  }
  return next.value;
}
