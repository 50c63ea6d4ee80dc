/**
 * Every path of a link's lifecycle, on the real dev server with the production worker wiring
 * (real activities, real Postgres). Durations are seconds because the workflow takes its
 * timings from the link's policy, not from constants.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import {
  cancelUpdate,
  extendExpiryUpdate,
  linkStateQuery,
  resendUpdate,
  SearchAttributes,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import { FAST_SETTINGS, type LinkHandle, linkTools, sleep } from '../helpers/links';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  stack = await startStack();
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.com', timezone: 'UTC' };
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
    const { id, handle } = await t.create({ amount: 500, max_payments: null, expires_in: 'PT4S' });
    for (const n of [1, 2]) await t.pay(handle, { paymentId: `pi_unl${n}`, amount: 500 });
    await eventually(async () => ((await t.row(id)).payments_count === 2 ? true : undefined));
    expect((await t.row(id)).status).toBe('active');
    expect(await t.untilStatus(id, 'expired')).toMatchObject({ payments_count: 2, amount_paid: 1000 });
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

  it('a late payment after expiry is recorded and flagged; the link stays expired', async () => {
    const { id, handle } = await t.create(
      { amount: 2000, expires_in: 'PT2S' },
      { ...FAST_SETTINGS, latePaymentWindowMs: 10_000 },
    );
    await t.untilStatus(id, 'expired');
    await t.pay(handle, { paymentId: 'pi_late', amount: 2000 });
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
    const { id, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT8S',
      reminders: { after_created: ['PT2S', 'PT4S'], before_expiry: ['PT2S'] },
    });
    const reminded = await t.untilEvent(id, 'payment_link.reminded', 3, 20_000);
    const created = row.created_at.getTime();
    const scheduled = reminded.map((e) => Date.parse(e.data.scheduled_for as string) - created);
    expect(scheduled).toEqual([2000, 4000, 6000]);
    await t.untilStatus(id, 'expired');
    for (const e of reminded) {
      const lateness = e.created_at.getTime() - Date.parse(e.data.scheduled_for as string);
      expect(lateness).toBeGreaterThanOrEqual(0);
      expect(lateness).toBeLessThan(2000);
      expect(e.data.channel).toBe('email');
    }
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment_link.sent',
      'payment_link.reminded',
      'payment_link.reminded',
      'payment_link.reminded',
      'payment_link.expired',
    ]);
  });

  it('skip quiet hours: a reminder due inside the window is sent when it ends', async () => {
    // A one-minute quiet window (UTC) around the reminder's due time; it moves to the next minute.
    const due = new Date(Date.now() + 2000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const windowEnd = new Date(Math.floor(due.getTime() / 60_000) * 60_000 + 60_000);
    const { id, handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      expires_in: 'PT10M',
      quiet_hours: { start: hhmm(due), end: hhmm(windowEnd) },
      reminders: { after_created: ['PT2S'] },
    });
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBe(windowEnd.toISOString());
    await sleep(Math.max(0, due.getTime() - Date.now()) + 1500);
    expect(await t.eventTypes(id)).not.toContain('payment_link.reminded'); // not at its offset
    const [reminded] = await t.untilEvent(id, 'payment_link.reminded', 1, 70_000);
    expect(reminded?.data.scheduled_for).toBe(windowEnd.toISOString());
    expect(reminded?.created_at.getTime()).toBeGreaterThanOrEqual(windowEnd.getTime());
  }, 90_000);

  it('expiry with reminders: those after expiry never fire', async () => {
    const { id } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT4S',
      reminders: { after_created: ['PT2S', 'PT6S'] },
    });
    await t.untilStatus(id, 'expired');
    await sleep(3000); // past where the second reminder would have been
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment_link.sent',
      'payment_link.reminded',
      'payment_link.expired',
    ]);
  });

  it('a payment stops every pending reminder at once', async () => {
    const { id, handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT3S', 'PT4S'] },
    });
    await t.pay(handle, { paymentId: 'pi_stop', amount: 2000 });
    await t.untilStatus(id, 'paid');
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBeNull();
    await sleep(4500);
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
      reminders: { after_created: ['PT3S'] },
    });
    const state = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'order withdrawn' }] });
    expect(state.status).toBe('cancelled');
    expect(await t.row(id)).toMatchObject({ status: 'cancelled' }); // written before the update returned
    expect(await searchStatus(handle)).toBe('cancelled');
    await sleep(4000);
    // A message claimed while the link was open may finish after the cancel; none starts after it.
    const types = await t.eventTypes(id);
    const cancelledAt = (await t.events(id)).find((e) => e.type === 'payment_link.cancelled')
      ?.created_at as Date;
    const started = await stack.db('notifications').where({ link_id: id }).whereNotNull('lease_until');
    for (const n of started) {
      const claimedAt = n.lease_until.getTime() - 120_000; // the claim's lease is two minutes
      expect(claimedAt).toBeLessThanOrEqual(cancelledAt.getTime());
    }
    expect(types).not.toContain('payment_link.reminded');
    expect((await t.events(id)).find((e) => e.type === 'payment_link.cancelled')?.data).toEqual({
      reason: 'order withdrawn',
    });
  });

  it('cancel after paid is rejected, and the link stays paid', async () => {
    const { id, handle } = await t.create({ amount: 2000 });
    await t.pay(handle, { paymentId: 'pi_then_cancel', amount: 2000 });
    await t.untilStatus(id, 'paid');
    const failure = await failureOf(handle.executeUpdate(cancelUpdate, { args: [{}] }));
    expect(failure.type).toBe('LinkTerminal');
    expect(failure.message).toBe('the payment link is paid');
    expect((await t.row(id)).status).toBe('paid');
  });

  it('extend_expiry moves the expiry; an earlier date is rejected', async () => {
    const { id, handle } = await t.create({ amount: 2000, expires_in: 'PT3S' });
    const later = inSeconds(8);
    const state = await handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt: later }] });
    expect(state.terms.expiresAt).toBe(later);
    expect((await t.row(id)).expires_at.toISOString()).toBe(later);
    const failure = await failureOf(
      handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt: inSeconds(1) }] }),
    );
    expect(failure.type).toBe('InvalidChange');
    await sleep(4000);
    expect((await t.row(id)).status).toBe('active'); // the old expiry passed
    const expired = await t.untilStatus(id, 'expired');
    expect(expired.closed_at?.getTime()).toBeGreaterThanOrEqual(Date.parse(later));
    expect(await t.eventTypes(id)).toEqual([
      'payment_link.created',
      'payment_link.expiry_extended',
      'payment_link.expired',
    ]);
  });

  it('extending the expiry never sends a reminder that the move put in the past', async () => {
    // 30 s before expiry lies before creation: dropped. Extended to creation + 33 s, it would
    // fall at creation + 3 s, already past when the extension lands.
    const { id, handle, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT20S',
      reminders: { before_expiry: ['PT30S'] },
    });
    await sleep(5000);
    const expiresAt = new Date(row.created_at.getTime() + 33_000).toISOString();
    await handle.executeUpdate(extendExpiryUpdate, { args: [{ expiresAt }] });
    await sleep(3000);
    expect(await t.eventTypes(id)).not.toContain('payment_link.reminded');
  });

  it('update changes description, metadata and reminders while open', async () => {
    const { id, handle } = await t.create({ amount: 2000, customer, channels: ['email'], quiet_hours: null });
    await handle.executeUpdate(updateLinkUpdate, {
      args: [
        {
          description: 'Invoice 43',
          metadata: { order: '43' },
          reminders: { afterCreated: ['PT2S'], beforeExpiry: [] },
        },
      ],
    });
    expect(await t.row(id)).toMatchObject({
      description: 'Invoice 43',
      metadata: { order: '43' },
      reminders: { afterCreated: ['PT2S'], beforeExpiry: [] },
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
