/**
 * A long-lived link hands over to a fresh run before its history grows large; its state,
 * including the reminders still to come, survives the hand-over.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LinkChange } from '../../src/links/link-store';
import type { RecordPaymentsInput } from '../../src/payments/record-payment';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import {
  type CarriedSignal,
  cancelUpdate,
  handOverUpdate,
  linkStateQuery,
  type PaymentLinkWorkflowInput,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import { activityHolds } from '../helpers/activity-hold';
import { FAST_SETTINGS, type LinkHandle, linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS, WAIT_MS, within } from '../helpers/temporal';

const holds = activityHolds();
let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack({ activityInterceptors: [holds.interceptor] });
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

it('continues as new with pending reminders, payments and changes carried over', async () => {
  const { id, handle, row } = await t.create(
    {
      amount: 3000,
      accept_partial: true,
      customer: { email: 'ada@example.com' },
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT1M',
      // Late enough that the hand-over happens before the first, even on a loaded machine.
      reminders: { after_created: ['PT15S', 'PT17S'] },
    },
    // Far below the production threshold, so a handful of messages triggers the hand-over.
    { ...FAST_SETTINGS, continueAsNewAfterEvents: 30 },
  );
  const firstRunId = (await handle.describe()).runId;

  await t.pay(handle, { paymentId: 'pi_before', amount: 1000 });
  for (let n = 0; n < 4; n++) {
    await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { revision: String(n) } }] });
  }

  const firstRun = stack.temporal.workflow.getHandle(id, firstRunId);
  await eventually(
    async () => ((await firstRun.describe()).status.name === 'CONTINUED_AS_NEW' ? true : undefined),
    WAIT_MS,
    'the first run to continue as new',
  );
  const current = await handle.describe();
  expect(current.runId).not.toBe(firstRunId);
  expect(current.status.name).toBe('RUNNING');
  expect((await firstRun.describe()).historyLength).toBeGreaterThanOrEqual(30); // handed over at the threshold

  // The new run knows everything the old one did.
  const state = await handle.query(linkStateQuery);
  expect(state).toMatchObject({
    status: 'partially_paid',
    amountPaid: 1000,
    terms: { metadata: { revision: '3' } },
  });
  expect(state.seenPaymentIds).toBeUndefined(); // Postgres knows which payments it has seen
  expect(Date.parse(state.nextReminderAt ?? '')).toBe(row.created_at.getTime() + 15_000);

  // Both pending reminders fire once each, from the new run.
  const reminded = await t.untilEvent(id, 'payment_link.reminded', 2);
  expect(reminded.map((e) => Date.parse(e.data.scheduled_for as string) - row.created_at.getTime())).toEqual([
    15_000, 17_000,
  ]);

  // A redelivered payment from before the hand-over is still recognised; a new one completes it.
  await t.pay(handle, { paymentId: 'pi_before', amount: 1000 });
  await t.pay(handle, { paymentId: 'pi_after', amount: 2000 });
  expect(await t.untilStatus(id, 'paid')).toMatchObject({ amount_paid: 3000, payments_count: 2 });
  expect((await t.events(id)).filter((e) => e.type === 'payment_link.reminded')).toHaveLength(2);
});

/** The inputs each hand-over of the link gave its next run, oldest first. */
async function handOvers(handle: LinkHandle): Promise<PaymentLinkWorkflowInput[]> {
  const codec = new AesGcmPayloadCodec(TEST_CODEC_KEYS);
  const runs = [];
  for await (const w of stack.temporal.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
    if (w.status.name === 'CONTINUED_AS_NEW') runs.push(w);
  runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  const inputs: PaymentLinkWorkflowInput[] = [];
  for (const w of runs) {
    const history = await stack.temporal.workflow.getHandle(handle.workflowId, w.runId).fetchHistory();
    const event = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes);
    const payloads = event?.workflowExecutionContinuedAsNewEventAttributes?.input?.payloads ?? [];
    const [input] = await codec.decode(payloads as Payload[]);
    inputs.push(defaultPayloadConverter.fromPayload(input as Payload));
  }
  return inputs;
}

it('a busy link hands over after a number of signals, with the payments still queued carried to the next run', async () => {
  const { id, handle } = await t.create(
    { amount: 500, max_payments: null, expires_in: 'PT5M' },
    { ...FAST_SETTINGS, continueAsNewAfterSignals: 3 },
  );
  const firstRunId = (await handle.describe()).runId;
  // The first payment's recording is held while nine more arrive: the run has then received
  // ten signals, past its three, with nine of them queued.
  const held = holds.hold(
    (type, args) => type === 'recordPayments' && (args[0] as RecordPaymentsInput).linkId === id,
    'before',
  );
  await t.pay(handle, { paymentId: `pi_busy_0_${id}`, amount: 500 });
  await within(held.reached, WAIT_MS, 'the first recording');
  for (let n = 1; n < 10; n++) await t.pay(handle, { paymentId: `pi_busy_${n}_${id}`, amount: 500 });
  held.release();

  await eventually(
    async () => ((await t.row(id)).payments_count === 10 ? true : undefined),
    WAIT_MS,
    'ten payments counted',
  );
  const [first] = await handOvers(handle);
  expect(first?.resumeFrom).toMatchObject({ paymentsCount: 1, amountPaid: 500 });
  // Handed over before the next command: the nine queued payments went along, in order.
  const carried: CarriedSignal[] = first?.carried ?? [];
  expect(carried.map((c) => c.kind === 'payment' && c.payment.paymentId)).toEqual(
    Array.from({ length: 9 }, (_, n) => `pi_busy_${n + 1}_${id}`),
  );
  expect((await handle.describe()).runId).not.toBe(firstRunId);
  expect(await handle.query(linkStateQuery)).toMatchObject({ paymentsCount: 10, amountPaid: 5000 });
  expect(await t.payments(id)).toHaveLength(10);
  expect((await t.payments(id)).filter((p) => p.flags.length > 0)).toEqual([]);
});

it('a run asked to hand over (a callback Temporal refused a signal) continues as new; a closed one refuses', async () => {
  const { id, handle } = await t.create({ amount: 500, max_payments: 2, expires_in: 'PT5M' }, FAST_SETTINGS);
  const firstRunId = (await handle.describe()).runId;
  await handle.executeUpdate(handOverUpdate);
  await eventually(
    async () => ((await handle.describe()).runId !== firstRunId ? true : undefined),
    WAIT_MS,
    'a new run',
  );
  expect((await stack.temporal.workflow.getHandle(id, firstRunId).describe()).status.name).toBe(
    'CONTINUED_AS_NEW',
  );
  await t.pay(handle, { paymentId: `pi_ho_1_${id}`, amount: 500 });
  await eventually(
    async () => ((await t.row(id)).payments_count === 1 ? true : undefined),
    WAIT_MS,
    'the payment to the new run',
  );

  // Closed (its closing write held, so the run is still there): the request is refused.
  const held = holds.hold((type, args) => {
    const change = args[0] as LinkChange;
    return type === 'recordChange' && change.linkId === id && change.patch?.status === 'cancelled';
  });
  const cancelled = handle.executeUpdate(cancelUpdate, { args: [{}] });
  await within(held.reached, WAIT_MS, 'the cancel write');
  const refused = await handle.executeUpdate(handOverUpdate).then(
    () => undefined,
    (err: unknown) => err,
  );
  held.release();
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/cancelled/);
  await cancelled;
  expect(await t.row(id)).toMatchObject({ status: 'cancelled', payments_count: 1 });
});
