/**
 * Part "callbacks": 1,000 concurrent copies of 50 signed callbacks (one payment each), the same
 * events replayed, 500 forged and a set of malformed ones, against the engine's real processes.
 * Sizes: --events, --copies, --forged (or CHAOS_EVENTS, CHAOS_COPIES, CHAOS_FORGED).
 */
import { randomBytes } from 'node:crypto';
import { callbackStorm } from '../callback-storm';
import { startEngine } from '../engine';
import { firstFailures, type PartResult, setting } from '../part';

export async function run(): Promise<PartResult> {
  const engine = await startEngine();
  try {
    const { failures, figures } = await callbackStorm(engine, {
      events: setting('events', 50),
      copies: setting('copies', 1000),
      forged: setting('forged', 500),
      tag: randomBytes(4).toString('hex'),
    });
    return { part: 'callbacks', ok: failures.length === 0, failures: firstFailures(failures), ...figures };
  } finally {
    await engine.stop();
  }
}
