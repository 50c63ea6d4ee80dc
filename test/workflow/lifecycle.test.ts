/**
 * Every path of a link's lifecycle, on the real dev server with the production worker wiring
 * (real activities, real Postgres). Durations are seconds because the workflow takes its
 * timings from the link's policy, not from constants.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEND_LEASE_SECONDS } from '../../activities/notifications';
import { createAccount } from '../../src/accounts/accounts';
import { createLatePayments } from '../../src/payments/late-payments';
import { createPaymentRecorder } from '../../src/payments/record-payment';
import {
  cancelUpdate,
  extendExpiryUpdate,
  linkStateQuery,
  resendUpdate,
  SearchAttributes,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { FAST_SETTINGS, type LinkHandle, linkTools, until } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.com', timezone: TEST_ACCOUNT_ZONE };
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected the update to be rejected');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

const searchStatus = async (handle: LinkHandle) =>
  (await handle.describe()).typedSearchAttributes.get(SearchAttributes.LinkStatus);
/** A payment's status reaches the search attribute in the workflow task after the row's write. */
const untilSearchStatus = (handle: LinkHandle, status: string) =>
  eventually(
    async () => ((await searchStatus(handle)) === status ? status : undefined),
    undefined,
    `LinkStatus ${status}`,
  );

describe.concurrent('payments', () => {
  it('paid in one go: row, payment, timeline, search attribute, workflow result', async () => {
    const { id, handle } = await t.create({ amount: 2000, expires_in: 'PT1M' });
    await t.pay(handle, { paymentId: 'pi_full', amount: 2000 });
    const row = await t.untilStatus(id, 'paid');
    expect(row).toMatchObject({ amount_paid: 2000, payments_count: 1 });
    expect(row.closed_at).not.toBeNull();
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment.succeeded',
      'payment_link.paid',
    ]);
    expect(await t.payments(id)).toMatchObject([
      { provider_payment_id: 'pi_full', amount: 2000, status: 'succeeded', flags: [], refund_review: false },
    ]);
    expect(await untilSearchStatus(handle, 'paid')).toBe('paid');
    expect(await handle.result()).toEqual({ status: 'paid', amountPaid: 2000, paymentsCount: 1 });
  });

  it('partial then full', async () => {
    const { id, handle } = await t.create({ amount: 3000, accept_partial: true, min_partial_amount: 500 });
    await t.pay(handle, { paymentId: 'pi_part1', amount: 1000 });
    expect(await t.untilStatus(id, 'partially_paid')).toMatchObject({ amount_paid: 1000, payments_count: 1 });
    expect(await untilSearchStatus(handle, 'partially_paid')).toBe('partially_paid');
    await t.pay(handle, { paymentId: 'pi_part2', amount: 2000 });
    expect(await t.untilStatus(id, 'paid')).toMatchObject({ amount_paid: 3000, payments_count: 2 });
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment.succeeded',
      'payment_link.partially_paid',
      'payment.succeeded',
      'payment_link.paid',
    ]);
    const partial = (await t.events(id)).find((e) => e.type === 'payment_link.partially_paid');
    expect(partial?.data).toEqual({ amount_paid: 1000, amount_remaining: 2000 });
  });

  it('overpaid: paid, and the payment flagged for refund review', async () => {
    const { id, handle } = await t.create({ amount: 2000 });
    await t.pay(handle, { paymentId: 'pi_over', amount: 2600 });
    expect(await t.untilStatus(id, 'paid')).toMatchObject({ amount_paid: 2600 });
    expect(await t.payments(id)).toMatchObject([{ amount: 2600, flags: ['overpaid'], refund_review: true }]);
    expect(await t.eventTypes(id)).toContain('payment.flagged');
  });

  it('multi-use link to its limit: completed', async () => {
    const { id, handle } = await t.create({ amount: 500, max_payments: 3 });
    for (const n of [1, 2, 3]) await t.pay(handle, { paymentId: `pi_use${n}`, amount: 500 });
    expect(await t.untilStatus(id, 'completed')).toMatchObject({ payments_count: 3, amount_paid: 1500 });
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment.succeeded',
      'payment.succeeded',
      'payment.succeeded',
      'payment_link.completed',
    ]);
    expect(await handle.result()).toEqual({ status: 'completed', amountPaid: 1500, paymentsCount: 3 });
  });

  it('unlimited multi-use link stays open until it expires', async () => {
    // The expiry leaves the payments ample time to land first, even on a loaded machine.
    const { id, handle } = await t.create({ amount: 500, max_payments: null, expires_in: 'PT10S' });
    for (const n of [1, 2]) await t.pay(handle, { paymentId: `pi_unl${n}`, amount: 500 });
    expect(await t.untilStatus(id, 'expired')).toMatchObject({ payments_count: 2, amount_paid: 1000 });
    // Both payments counted while it was open, neither closed it: the expiry did.
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment.succeeded',
      'payment.succeeded',
      'payment_link.expired',
    ]);
  });

  it('a duplicate payment signal is counted once', async () => {
    const { id, handle } = await t.create({ amount: 3000, accept_partial: true });
    await t.pay(handle, { paymentId: 'pi_dup', amount: 1000 });
    await t.pay(handle, { paymentId: 'pi_dup', amount: 1000 });
    await t.pay(handle, { paymentId: 'pi_after', amount: 500 }); // a barrier: processed after both
    await eventually(async () => ((await t.row(id)).payments_count === 2 ? true : undefined));
    expect(await t.row(id)).toMatchObject({ amount_paid: 1500, payments_count: 2, status: 'partially_paid' });
    expect((await t.payments(id)).map((p) => p.provider_payment_id)).toEqual(['pi_dup', 'pi_after']);
  });

  it('a currency mismatch is rejected, recorded, and leaves the link open', async () => {
    const { id, handle } = await t.create({ amount: 2000 });
    await t.pay(handle, { paymentId: 'pi_eur', amount: 2000, currency: 'EUR' });
    await t.untilEvent(id, 'payment.rejected');
    expect(await t.payments(id)).toMatchObject([
      {
        provider_payment_id: 'pi_eur',
        currency: 'EUR',
        status: 'rejected',
        flags: ['currency_mismatch'],
        refund_review: true,
      },
    ]);
    expect(await t.row(id)).toMatchObject({ status: 'active', amount_paid: 0, payments_count: 0 });
    await t.pay(handle, { paymentId: 'pi_usd', amount: 2000 });
    await t.untilStatus(id, 'paid');
  });

  it('concurrent payments on a single-use link: one completes it, the other is flagged', async () => {
    const { id, handle } = await t.create({ amount: 2000 });
    await Promise.all([
      t.pay(handle, { paymentId: 'pi_race_a', amount: 2000 }),
      t.pay(handle, { paymentId: 'pi_race_b', amount: 2000 }),
    ]);
    await t.untilStatus(id, 'paid');
    const recorded = await eventually(async () => {
      const p = await t.payments(id);
      return p.length === 2 ? p : undefined;
    });
    const [winner, loser] = recorded;
    expect(winner).toMatchObject({ flags: [], refund_review: false });
    expect(loser).toMatchObject({ flags: ['already_paid'], refund_review: true });
    expect(await t.row(id)).toMatchObject({ amount_paid: 2000, payments_count: 1 });
  });

  it('a late payment after expiry: the workflow has ended; the callback path records and flags it', async () => {
    // A late-payment window is configured, and a new run (`lean-lifecycle`) does not wait it out.
    const { id, handle } = await t.create(
      { amount: 2000, expires_in: 'PT2S' },
      { ...FAST_SETTINGS, latePaymentWindowMs: 10 * 60_000 },
    );
    await t.untilStatus(id, 'expired');
    await t.untilFinished(handle);
    const payment = { provider: 'sandbox', paymentId: 'pi_late', amount: 2000, currency: 'USD' };
    // What the provider-callback path does (src/payments/provider-events.ts): the signal finds no
    // workflow, so the payment is recorded as late.
    const signalled = await t.pay(handle, payment).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(signalled).toBeInstanceOf(WorkflowNotFoundError);
    const recordLatePayment = createLatePayments({
      recordPayments: createPaymentRecorder(stack.db),
      temporal: stack.temporal,
      taskQueue: stack.taskQueue,
    });
    await recordLatePayment(await t.row(id), payment);
    await t.untilEvent(id, 'payment.flagged');
    expect(await t.payments(id)).toMatchObject([
      { provider_payment_id: 'pi_late', flags: ['late'], refund_review: true },
    ]);
    expect(await t.row(id)).toMatchObject({ status: 'expired', amount_paid: 0 });
    expect(await searchStatus(handle)).toBe('expired');
  });
});

describe.concurrent('reminders', () => {
  it('fire at their scheduled offsets, after creation and before expiry', async () => {
    // Seconds apart, so that on a loaded machine each still goes out in its own slot.
    const { id, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT20S',
      reminders: { after_created: ['PT2S', 'PT6S'], before_expiry: ['PT10S'] },
    });
    const reminded = await t.untilEvent(id, 'payment_link.reminded', 3);
    const created = row.created_at.getTime();
    const scheduled = reminded.map((e) => Date.parse(e.data.scheduled_for as string));
    expect(scheduled.map((at) => at - created)).toEqual([2000, 6000, 10_000]);
    await t.untilStatus(id, 'expired');
    // Never early, and each before the next one (then the expiry) is due.
    const deadlines = [...scheduled.slice(1), row.expires_at.getTime()];
    reminded.forEach((e, i) => {
      expect(e.created_at.getTime()).toBeGreaterThanOrEqual(scheduled[i] as number);
      expect(e.created_at.getTime()).toBeLessThan(deadlines[i] as number);
      expect(e.data.channel).toBe('email');
    });
    const types = await t.eventTypes(id);
    // The link's own message goes out at creation, unordered with respect to the reminders.
    expect(types.filter((type) => type === 'payment_link.sent')).toHaveLength(1);
    expect(types.filter((type) => type !== 'payment_link.sent')).toEqual([
      'payment_link.created',
      'payment_link.reminded',
      'payment_link.reminded',
      'payment_link.reminded',
      'payment_link.expired',
    ]);
  });

  it('skip quiet hours: a reminder due inside the window is sent when it ends', async () => {
    // Quiet hours are whole minutes in the customer's zone (a fixed offset, whole or half
    // hours, no DST): from the current minute to a minute boundary at least 15 s away, so the
    // reminder, due 1 s after creation, falls inside the window whatever second it is now. The
    // link expires 10 s after the window.
    const now = Date.now();
    const hhmm = (ms: number) => DateTime.fromMillis(ms, { zone: customer.timezone }).toFormat('HH:mm');
    const windowEnd = Math.ceil((now + 15_000) / 60_000) * 60_000;
    const expiresAt = windowEnd + 10_000;
    const { id, handle, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      expires_at: new Date(expiresAt).toISOString(),
      quiet_hours: { start: hhmm(now), end: hhmm(windowEnd) },
      reminders: { after_created: ['PT1S'] },
    });
    expect(row.created_at.getTime() + 1000, 'the reminder is due inside the window').toBeLessThan(windowEnd);
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBe(new Date(windowEnd).toISOString());
    // Expired, the link's timeline is complete: one reminder, at the end of the window, none at its offset.
    await t.untilStatus(id, 'expired', expiresAt - Date.now() + WAIT_MS);
    const reminded = (await t.events(id)).filter((e) => e.type === 'payment_link.reminded');
    expect(reminded.map((e) => e.data.scheduled_for)).toEqual([new Date(windowEnd).toISOString()]);
    expect(reminded[0]?.created_at.getTime()).toBeGreaterThanOrEqual(windowEnd);
  }, 180_000); // a window of up to 75 s, the expiry 10 s after it, then the usual waits

  it('expiry with reminders: those after expiry never fire', async () => {
    // The second reminder falls after the expiry: the workflow ends at the expiry, so nothing
    // is left that could send it.
    const { id, handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT8S',
      reminders: { after_created: ['PT2S', 'PT10S'] },
    });
    await t.untilStatus(id, 'expired');
    await t.untilFinished(handle);
    const types = await t.eventTypes(id);
    expect(types.filter((type) => type === 'payment_link.sent')).toHaveLength(1);
    expect(types.filter((type) => type !== 'payment_link.sent')).toEqual([
      'payment_link.created',
      'payment_link.reminded',
      'payment_link.expired',
    ]);
  });

  it('a payment stops every pending reminder at once', async () => {
    // Both reminders fall after the payment has landed (seconds of margin): the paid workflow
    // ends, so nothing is left that could send them.
    const { id, handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT6S', 'PT7S'] },
    });
    await t.pay(handle, { paymentId: 'pi_stop', amount: 2000 });
    await t.untilStatus(id, 'paid');
    // The row turns paid inside the activity, a moment before the workflow learns of it: its
    // answer is read once it has finished.
    await t.untilFinished(handle);
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBeNull();
    expect(await t.eventTypes(id)).not.toContain('payment_link.reminded');
  });
});

describe.concurrent('merchant actions', () => {
  it('cancel closes the link and stops its reminders', async () => {
    const { id, handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT6S'] },
    });
    const state = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'order withdrawn' }] });
    expect(state.status).toBe('cancelled');
    expect(await t.row(id)).toMatchObject({ status: 'cancelled' }); // written before the update returned
    expect(await searchStatus(handle)).toBe('cancelled');
    // A message claimed while the link was open may finish after the cancel; none starts after it.
    const messages = await t.untilMessagesSettled(handle);
    const cancelledAt = (await t.events(id)).find((e) => e.type === 'payment_link.cancelled')
      ?.created_at as Date;
    for (const n of messages.filter((m) => m.lease_until !== null)) {
      const claimedAt = n.lease_until.getTime() - SEND_LEASE_SECONDS * 1000;
      expect(claimedAt).toBeLessThanOrEqual(cancelledAt.getTime());
    }
    expect(await t.eventTypes(id)).not.toContain('payment_link.reminded');
    expect((await t.events(id)).find((e) => e.type === 'payment_link.cancelled')?.data).toEqual({
      reason: 'order withdrawn',
    });
  });

  it('cancel after paid is rejected, and the link stays paid', async () => {
    const { id, handle } = await t.create({ amount: 2000 });
    await t.pay(handle, { paymentId: 'pi_then_cancel', amount: 2000 });
    await t.untilStatus(id, 'paid');
    // A lean run ends with the payment (nothing left to wait for): the cancel finds no workflow,
    // and the API answers from the row that the link is closed.
    await t.untilFinished(handle);
    const err = await handle.executeUpdate(cancelUpdate, { args: [{}] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
    const answer = await stack.request('POST', `/v1/payment_links/${id}/cancel`, { json: {} });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({
      code: 'link_closed',
      message: 'The payment link cannot be changed: the payment link is paid',
    });
    expect((await t.row(id)).status).toBe('paid');
  });

  it('extend_expiry moves the expiry; an earlier date is rejected', async () => {
    // Seconds of margin for the extension to land before the first expiry on a loaded machine.
    const { id, handle } = await t.create({ amount: 2000, expires_in: 'PT6S' });
    const later = inSeconds(14);
    const state = await handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt: later }] });
    expect(state.terms.expiresAt).toBe(later);
    expect((await t.row(id)).expires_at.toISOString()).toBe(later);
    const failure = await failureOf(
      handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt: inSeconds(1) }] }),
    );
    expect(failure.type).toBe('InvalidChange');
    // The old expiry passed without closing it: it closed at the new one.
    const expired = await t.untilStatus(id, 'expired');
    expect(expired.closed_at?.getTime()).toBeGreaterThanOrEqual(Date.parse(later));
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment_link.expiry_extended',
      'payment_link.expired',
    ]);
  });

  it('extending the expiry never sends a reminder that the move put in the past', async () => {
    // 30 s and 20 s before expiry lie before and on creation: neither is scheduled. Extended at
    // creation + 4 s to creation + 33 s, they fall at creation + 3 s (already past: never sent)
    // and at creation + 13 s (sent: once it is, the schedule has gone past the other).
    const { id, handle, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT20S',
      reminders: { before_expiry: ['PT30S', 'PT20S'] },
    });
    const created = row.created_at.getTime();
    await until(created + 4000);
    const expiresAt = new Date(created + 33_000).toISOString();
    await handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt }] });
    const due = new Date(created + 13_000).toISOString();
    const reminded = await eventually(
      async () => {
        const all = (await t.events(id)).filter((e) => e.type === 'payment_link.reminded');
        return all.some((e) => e.data.scheduled_for === due) ? all : undefined;
      },
      WAIT_MS,
      'the reminder at creation + 13 s',
    );
    expect(reminded.map((e) => e.data.scheduled_for)).toEqual([due]);
  });

  it('update changes description, metadata and reminders while open', async () => {
    const { id, handle } = await t.create({ amount: 2000, customer, channels: ['email'], quiet_hours: null });
    await handle.executeUpdate(updateLinkUpdate, {
      args: [
        {
          description: 'Invoice 43',
          metadata: { order: '43' },
          // Far enough from creation that the update lands first on a loaded machine.
          reminders: { afterCreated: ['PT8S'], beforeExpiry: [] },
        },
      ],
    });
    expect(await t.row(id)).toMatchObject({
      description: 'Invoice 43',
      metadata: { order: '43' },
      reminders: { afterCreated: ['PT8S'], beforeExpiry: [] },
    });
    await t.untilEvent(id, 'payment_link.reminded');
    expect((await t.events(id)).find((e) => e.type === 'payment_link.updated')?.data).toEqual({
      fields: ['description', 'metadata', 'reminders'],
    });
  });

  it('resend sends now on a channel the customer can be reached on', async () => {
    const { id, handle } = await t.create({ amount: 2000, customer, channels: ['email'] });
    await handle.executeUpdate(resendUpdate, { args: [{ channel: 'email' }] });
    await t.untilEvent(id, 'payment_link.sent', 2);
    const failure = await failureOf(handle.executeUpdate(resendUpdate, { args: [{ channel: 'sms' }] }));
    expect(failure.type).toBe('ChannelUnavailable');
  });
});

describe('creation', () => {
  it('a reference taken by a concurrent creation leaves no row and no open workflow', async () => {
    const reference = `race-${Date.now()}`;
    // Both pass the API's pre-check; the database's unique constraint decides.
    const attempts = await Promise.allSettled([
      t.create({ amount: 100, reference }),
      t.create({ amount: 100, reference }),
    ]);
    const ok = attempts.filter((a) => a.status === 'fulfilled');
    const failed = attempts.filter((a) => a.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(String((failed[0] as PromiseRejectedResult).reason.message)).toMatch(/already has reference/);
    expect(await stack.db('payment_links').where({ reference })).toHaveLength(1);
  });

  it('a link with no customer time zone uses the account’s', async () => {
    const tokyo = await createAccount(stack.db, 'Tokyo shop', 'Asia/Tokyo');
    const r = await stack.request('POST', '/v1/payment_links', {
      key: tokyo.apiKey,
      json: { amount: 1000, currency: 'JPY', customer: { email: 'k@example.jp' } },
    });
    expect(r.status).toBe(201);
    expect(r.body.timezone).toBe('Asia/Tokyo');
  });
});
