/**
 * Part "money": the model-based concurrency test of issue 21 at full size, 200 interleavings of
 * open, submit, decline, cancel, expire, refund, reissue and replayed callbacks against the
 * engine's real processes, each checked from Postgres (tools/chaos/money-model/). A new seed
 * each time unless given: `--seed`/`FC_SEED`; `--runs`/`FC_RUNS`; `FC_PATH` replays one failing
 * interleaving; `--shrink-ms`/`FC_SHRINK_MS` bounds shrinking (every attempt is a real run).
 */

import { startEngine } from '../engine';
import { checkMoneyModel, modelSettingsFromEnv } from '../money-model/check';
import { firstFailures, type PartResult, setting } from '../part';

export async function run(): Promise<PartResult> {
  const fromEnv = modelSettingsFromEnv({
    runs: 200,
    seed: Date.now() % 2 ** 31,
    shrinkBudgetMs: 10 * 60_000,
  });
  const settings = {
    ...fromEnv,
    runs: setting('runs', fromEnv.runs),
    seed: setting('seed', fromEnv.seed),
    shrinkBudgetMs: setting('shrink-ms', fromEnv.shrinkBudgetMs),
  };
  const engine = await startEngine();
  try {
    const result = await checkMoneyModel(engine, {
      progress: true,
      ...settings,
      settleMs: 60_000,
      replayCommand: (seed, path) => `FC_SEED=${seed} FC_PATH=${path} npm run chaos -- --part money`,
      log: (line) => console.error(line),
    });
    // What the API and the worker logged as errors: the cause of a 5xx the model met.
    const errors = result.ok
      ? []
      : Object.entries(engine.logs()).flatMap(([role, lines]) =>
          lines.filter((l) => /"level":(50|60)|error/i.test(l)).map((l) => `${role}: ${l.slice(0, 600)}`),
        );
    return {
      part: 'money',
      ok: result.ok,
      failures: firstFailures(result.ok ? [] : [...result.report, ...errors.slice(-20)], 100),
      seed: result.seed,
      interleavings: result.runs,
      executions: result.executions,
      shrinks: result.shrinks,
      happened: result.tally,
      ...(result.path ? { path: result.path } : {}),
    };
  } finally {
    await engine.stop();
  }
}
