/**
 * Part "fuzz": 5,000 requests generated with fast-check over every route against the engine's
 * real processes. `--seed` replays a run (the seed is in the summary); `--requests` sizes it.
 */
import { startEngine } from '../engine';
import { fuzz } from '../fuzz';
import { firstFailures, type PartResult, setting } from '../part';

export async function run(): Promise<PartResult> {
  const seed = setting('seed', Date.now() % 2 ** 31);
  console.error(`chaos fuzz: seed ${seed}`);
  const engine = await startEngine();
  try {
    const { failures, figures } = await fuzz(engine, {
      seed,
      requests: setting('requests', 5000),
      concurrency: setting('concurrency', 8),
    });
    return { part: 'fuzz', ok: failures.length === 0, failures: firstFailures(failures, 40), ...figures };
  } finally {
    await engine.stop();
  }
}
