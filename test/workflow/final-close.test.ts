/**
 * "No close is ever taken back" (issue 21, case 7): a payment that arrives while the write that
 * closes a link (expired, cancelled) is in flight must not undo the close once it is announced.
 * An activity interceptor on the real worker lets the closing write commit, then holds it; the
 * test signals a payment while it is held, then releases it. Whatever the order Temporal then
 * delivers things in, the link ends either paid with no close announced, or closed with the
 * payment flagged late: never announced as expired (or cancelled) and then paid.
 */
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkChange } from '../../src/links/link-store';
import { cancelUpdate, isTerminal } from '../../workflows/payment-link/contract';
import { FAST_SETTINGS, type LinkHandle, linkTools } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { within } from '../helpers/temporal';

/** Holds the closing write of one link after it committed, until released. */
interface Hold {
  linkId: string;
  /** Resolves once the write has committed and is being held. */
  reached: Promise<void>;
  release(): void;
}

const holds = new Map<string, { reached(): void; released: Promise<void> }>();

function holdClosingWrite(linkId: string): Hold {
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => {
    reached = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  holds.set(linkId, { reached, released });
  return { linkId, reached: reachedP, release };
}

/** Any write of a terminal status (`recordChange`, local or not): the close of expiry, cancel, document settled. */
class ClosingWriteHolder implements ActivityInboundCallsInterceptor {
  constructor(private readonly activityType: string) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
    const result = await next(input);
    const change = input.args[0] as LinkChange | undefined;
    const status = change?.patch?.status;
    const hold = change && holds.get(change.linkId);
    if (this.activityType === 'recordChange' && status && isTerminal(status) && hold) {
      // Once: a retried write (the task it ran in was retried) goes through.
      holds.delete(change.linkId);
      hold.reached();
      await hold.released;
    }
    return result;
  }
}

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack({
    activityInterceptors: [(ctx) => ({ inbound: new ClosingWriteHolder(ctx.info.activityType) })],
  });
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
