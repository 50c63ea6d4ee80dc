/**
 * A multi-use link's workflow keeps nothing that grows with its payments: Postgres decides which
 * payments are new, so the state, the query answer and the continue-as-new input stay a few
 * kilobytes however many customers pay.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import { linkStateQuery, type PaymentLinkWorkflowInput } from '../../workflows/payment-link/contract';
import { FAST_SETTINGS, linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS } from '../helpers/temporal';

const PAYMENTS = Number(process.env.N ?? 2000);
const SMALL = 4096;

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

it(`state, query answer and continue-as-new input stay small after ${PAYMENTS} payments`, async () => {
  const { id, handle } = await t.create(
    { amount: 500, max_payments: null, expires_in: 'PT1H', metadata: { campaign: 'spring' } },
    // Hand over every thousand events or so, so the input of later runs is measured too.
    { ...FAST_SETTINGS, continueAsNewAfterEvents: 1000 },
  );
  const pay = (n: number) => t.pay(handle, { paymentId: `pi_size_${n}`, amount: 500 });
  for (let n = 0; n < 10; n++) await pay(n);
  await eventually(async () => ((await t.row(id)).payments_count === 10 ? true : undefined));
  const early = bytes(await handle.query(linkStateQuery));

  const recorded = (count: number) =>
    eventually(
      async () => {
        const r = await t.row(id);
        return r.payments_count === count ? r : undefined;
      },
      60_000,
      `${count} payments recorded`,
    );
  // In waves, like a campaign's customers: the link hands over to a new run between them.
  for (let n = 10; n < PAYMENTS; n += 250) {
    const wave = Math.min(250, PAYMENTS - n);
    await Promise.all(Array.from({ length: wave }, (_, i) => pay(n + i)));
    await recorded(n + wave);
  }
  // Redelivered payments are recognised by Postgres and change nothing.
  await Promise.all(Array.from({ length: 20 }, (_, i) => pay(i)));
  await pay(PAYMENTS); // a barrier: recorded after the redeliveries
  const row = await recorded(PAYMENTS + 1);
  expect(row.amount_paid).toBe((PAYMENTS + 1) * 500);
  const [stored] = await stack.db('payments').where({ link_id: id }).count({ n: '*' });
  expect(Number(stored?.n)).toBe(PAYMENTS + 1);

  const view = await handle.query(linkStateQuery);
  expect(view.paymentsCount).toBe(PAYMENTS + 1);
  expect(view.seenPaymentIds).toBeUndefined();
  const late = bytes(view);
  // Only the digits of the counters grew.
  expect(late).toBeLessThan(SMALL);
  expect(late - early).toBeLessThan(16);

  // Later runs started from a continue-as-new input of the same few kilobytes.
  const input = await eventually(
    async () => {
      const { runId } = await handle.describe();
      const history = await stack.temporal.workflow.getHandle(id, runId).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      return (started?.continuedExecutionRunId && started.input?.payloads?.[0]) || undefined;
    },
    60_000,
    'a run continued from an earlier one',
  );
  // As Temporal stores it, encrypted; then in clear. Besides the state, a hand-over in the middle
  // of a wave carries the payments still queued (`final-close`): at most one batch of them.
  const inputBytes = input.data?.length ?? 0;
  const clear = new AesGcmPayloadCodec(TEST_CODEC_KEYS).decrypt(input);
  const { carried = [], ...state } = JSON.parse(
    Buffer.from(clear.data ?? []).toString(),
  ) as PaymentLinkWorkflowInput;
  console.log(
    `ledger sizes: query ${early} B after 10 payments, ${late} B after ${PAYMENTS + 1}; continue-as-new input ${inputBytes} B (${bytes(state)} B of state, ${carried.length} payments carried)`,
  );
  expect(bytes(state)).toBeLessThan(SMALL);
  expect(state.resumeFrom).toMatchObject({ paymentsCount: expect.any(Number) });
  expect(carried.length).toBeLessThanOrEqual(100);
  expect(inputBytes).toBeLessThan(SMALL + 100 * 400);
}, 240_000);
