/**
 * The fault suite (`npm run chaos`, issue 15) at a size the normal run affords: a few hundred
 * fuzzed requests with a fixed seed over every route, and a smaller callback storm. The kills and
 * the full sizes run under `npm run chaos`; the Postgres cut has its own test.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callbackStorm } from '../../tools/chaos/callback-storm';
import { type FuzzTarget, fuzz } from '../../tools/chaos/fuzz';
import { PUBLIC_BASE_URL, SANDBOX_SECRET, type Stack, startStack } from '../helpers/stack';
import { WAIT_MS } from '../helpers/temporal';

/** Fixed: a failure here is replayed with `npm run chaos -- --part fuzz --seed 20261124 --requests 300`. */
const SEED = 20261124;

let stack: Stack;
let target: FuzzTarget;
beforeAll(async () => {
  stack = await startStack();
  target = {
    baseUrl: stack.baseUrl,
    apiKey: stack.account.apiKey,
    accountId: stack.account.accountId,
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    sandboxSecret: SANDBOX_SECRET,
    publicBaseUrl: PUBLIC_BASE_URL,
    twilioAuthToken: stack.twilioAuthToken,
  };
});
afterAll(async () => {
  await stack?.stop();
});

it('answers 300 fuzzed requests over every route without a 5xx or a hang, storing no junk and failing no workflow', async () => {
  const { failures, figures } = await fuzz(target, {
    seed: SEED,
    requests: 300,
    concurrency: 4,
    slowMs: WAIT_MS,
  });
  expect(figures.routes).toBeGreaterThanOrEqual(40);
  expect(failures).toEqual([]);
});

it('makes one payment per event from 200 concurrent copies of 10 signed callbacks, refuses forged ones and stores nothing malformed', async () => {
  const { failures, figures } = await callbackStorm(target, {
    events: 10,
    copies: 200,
    forged: 60,
    tag: 'suite',
    waitMs: WAIT_MS,
  });
  expect(figures.paymentsPerEvent).toEqual({ lost: 0, doubled: 0 });
  expect(figures.forgedAccepted).toBe(0);
  expect(failures).toEqual([]);
});
