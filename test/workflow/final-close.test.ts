/**
 * "No close is ever taken back" (issue 21, case 7): a payment that arrives while the write that
 * closes a link (expired, cancelled) is in flight must not undo the close once it is announced.
 * An activity interceptor on the real worker lets the closing write commit, then holds it; the
 * test signals a payment while it is held, then releases it. Whatever the order Temporal then
 * delivers things in, the link ends either paid with no close announced, or closed with the
 * payment flagged late: never announced as expired (or cancelled) and then paid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkChange } from '../../src/links/link-store';
import { createPaymentRecorder, type RecordPaymentsInput } from '../../src/payments/record-payment';
import { cancelUpdate, isTerminal } from '../../workflows/payment-link/contract';
import { activityHolds } from '../helpers/activity-hold';
import { FAST_SETTINGS, type LinkHandle, linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { within } from '../helpers/temporal';

const holds = activityHolds();
/** The next write of a terminal status for the link (`recordChange`, local or not), once it committed. */
const holdClosingWrite = (linkId: string) =>
  holds.hold((activityType, args) => {
    const change = args[0] as LinkChange;
    const status = change.patch?.status;
    return activityType === 'recordChange' && change.linkId === linkId && !!status && isTerminal(status);
  }, 'after');

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack({ activityInterceptors: [holds.interceptor] });
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.com', timezone: 'UTC' };

/** What the link announced (webhooks by type, customer messages by kind) from the outbox. */
async function announced(linkId: string) {
  const rows = await stack.db('outbox').where({ link_id: linkId }).orderBy('id');
  return {
    webhooks: rows.filter((r) => r.kind === 'webhook').map((r) => r.payload.type as string),
    messages: rows.filter((r) => r.kind === 'message').map((r) => r.payload.kind as string),
  };
}

/** Paid and nothing else announced, or `closed` and the payment set aside as late: never both. */
async function expectOneOutcome(id: string, handle: LinkHandle, closed: 'expired' | 'cancelled') {
  const result = await within(handle.result(), 60_000, `the run of ${id} to end`);
  const row = await t.row(id);
  const payments = await t.payments(id);
  const { webhooks, messages } = await announced(id);
  const summary = { status: row.status, result, payments, webhooks, messages };
  expect(payments, JSON.stringify(summary)).toHaveLength(1);
  if (row.status === 'paid') {
    expect(summary).toMatchObject({
      result: { status: 'paid', amountPaid: 2000 },
      payments: [{ flags: [], refund_review: false }],
    });
    expect(webhooks, JSON.stringify(summary)).not.toContain(`payment_link.${closed}`);
    expect(messages, JSON.stringify(summary)).not.toContain(closed);
  } else {
    expect(summary).toMatchObject({
      status: closed,
      result: { status: closed, amountPaid: 0, paymentsCount: 0 },
      payments: [{ flags: ['late'], refund_review: true }],
    });
    expect(row).toMatchObject({ amount_paid: 0, payments_count: 0 });
    expect(webhooks).toContain(`payment_link.${closed}`);
    expect(messages).toContain(closed);
    expect(webhooks).toContain('payment.flagged');
    expect(webhooks).not.toContain('payment_link.paid');
    expect(webhooks).not.toContain('payment.succeeded');
    expect(messages).not.toContain('receipt');
  }
  return row.status;
}

describe.concurrent('a payment while the closing write is in flight', () => {
  it('expiry: the link ends paid with no expiry announced, or expired with the payment late', async () => {
    const { id, handle } = await t.create(
      {
        amount: 2000,
        customer,
        channels: ['email'],
        quiet_hours: null,
        notify_on_expiry: true,
        expires_in: 'PT4S',
      },
      FAST_SETTINGS,
    );
    const hold = holdClosingWrite(id);
    // The link's own message is out before the expiry: the close has no message to wait for.
    await t.untilEvent(id, 'payment_link.sent');
    await within(hold.reached, 60_000, 'the expiry write');
    expect((await t.row(id)).status).toBe('expired'); // committed, and held
    await t.pay(handle, { paymentId: `pi_race_exp_${id}`, amount: 2000 });
    hold.release();
    await expectOneOutcome(id, handle, 'expired');
  });

  it('cancel: the link ends paid with no cancel announced (the cancel refused), or cancelled with the payment late', async () => {
    const { id, handle } = await t.create(
      { amount: 2000, customer, channels: ['email'], quiet_hours: null, expires_in: 'PT5M' },
      FAST_SETTINGS,
    );
    await t.untilEvent(id, 'payment_link.sent');
    const hold = holdClosingWrite(id);
    const cancelling = handle
      .executeUpdate(cancelUpdate, { args: [{ reason: 'race', notifyCustomer: true }] })
      .then(
        () => 'ok' as const,
        (err: unknown) => err,
      );
    await within(hold.reached, 60_000, 'the cancel write');
    expect((await t.row(id)).status).toBe('cancelled');
    await t.pay(handle, { paymentId: `pi_race_can_${id}`, amount: 2000 });
    hold.release();
    const status = await expectOneOutcome(id, handle, 'cancelled');
    // The merchant's answer says what happened to the link.
    const answer = await within(cancelling, 60_000, 'the cancel to be answered');
    if (status === 'cancelled') expect(answer).toBe('ok');
    else expect(answer).not.toBe('ok');
  });
});

it('a payment for a link Postgres holds closed is late, whatever the run recording it believes', async () => {
  // What a run started before `final-close` does when Temporal refused the task of its closing
  // write and the retried task takes the payment first: it records the payment against the link
  // as it believes it (open). Postgres holds the close, so the payment is set aside as late and
  // the run learns the link's status from the answer.
  const { id, handle } = await t.create({ amount: 2000, expires_in: 'PT2S' }, FAST_SETTINGS);
  await t.untilStatus(id, 'expired');
  await t.untilFinished(handle);
  const terms = {
    amount: 2000,
    currency: 'USD',
    maxPayments: 1,
    acceptPartial: false,
    minPartialAmount: null,
  };
  const input: RecordPaymentsInput = {
    linkId: id,
    accountId: t.account.id,
    before: { status: 'active', amountPaid: 0, paymentsCount: 0, terms },
    payments: [
      {
        rowId: `pay_guard_${id}`,
        payment: { provider: 'sandbox', paymentId: `pi_guard_${id}`, amount: 2000, currency: 'USD' },
      },
    ],
    now: new Date().toISOString(),
  };
  const recordPayments = createPaymentRecorder(stack.db);
  const recorded = await recordPayments(input);
  // An attempt whose answer was lost is retried: it answers as the attempt that committed did.
  expect(await recordPayments(input)).toEqual(recorded);
  expect(recorded.results).toMatchObject([
    {
      outcome: 'recorded',
      decision: { status: 'expired', flags: ['late'], amountPaid: 0, paymentsCount: 0 },
    },
  ]);
  expect(await t.row(id)).toMatchObject({ status: 'expired', amount_paid: 0, payments_count: 0 });
  expect(await t.payments(id)).toMatchObject([{ flags: ['late'], refund_review: true }]);
});
