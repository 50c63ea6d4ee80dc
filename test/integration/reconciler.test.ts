/**
 * "Nothing stored is left behind": a `payment.succeeded` stored by the callback route, whose
 * process then died (processed_at NULL, the session still open, the link unpaid), is applied by
 * the reconciler's Temporal Schedule exactly once, however often it runs, and says so on the
 * link's timeline.
 */
import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ReconcileSummary } from '../../src/payments/reconcile-events';
import { ensureReconcilerSchedule } from '../../src/reconciler/schedule';
import { type Stack, startStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';

let stack: Stack;
let schedule: ScheduleHandle | undefined;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await schedule?.delete();
  await stack?.stop();
});

/** An hour between passes: the test triggers each pass itself and waits for its outcome. */
const ensureSchedule = async (graceMs: number, limit?: number) => {
  schedule = await ensureReconcilerSchedule(stack.temporal, {
    taskQueue: stack.taskQueue,
    intervalMs: 3_600_000,
    graceMs,
    limit,
  });
  return schedule;
};

async function runPass(handle: ScheduleHandle): Promise<ReconcileSummary> {
  const before = (await handle.describe()).info.numActionsTaken;
  await handle.trigger();
  const action = await eventually(
    async () => {
      const { info } = await handle.describe();
      return info.numActionsTaken > before ? info.recentActions.at(-1)?.action : undefined;
    },
    undefined,
    'the schedule to start a reconciler pass',
  );
  return stack.temporal.workflow
    .getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId)
    .result();
}

/** What the callback route writes before anything else (src/payments/provider-events.ts), and no more. */
async function strandedPayment() {
  const created = await stack.request('POST', '/v1/payment_links', {
    json: { amount: 2500, currency: 'USD', description: 'Stranded' },
  });
  expect(created.status).toBe(201);
  const linkId = created.body.id as string;
  const pay = await stack.postForm(`${new URL(created.body.url).pathname}/pay`, {});
  expect(pay.status).toBe(303);
  const sessionId = (pay.headers.get('location') as string).split('/').at(-1) as string;
  const event = {
    id: `evt_stranded_${sessionId}`,
    type: 'payment.succeeded',
    data: { session_id: sessionId, payment_id: `pi_stranded_${sessionId}`, amount: 2500, currency: 'USD' },
  };
  const raw = JSON.stringify(event);
  await stack.db('provider_events').insert({
    provider: 'sandbox',
    event_id: event.id,
    account_id: stack.account.accountId,
    type: event.type,
    payload: raw,
  });
  return { linkId, sessionId, event, raw };
}

const storedEvent = (eventId: string) =>
  stack.db('provider_events').where({ provider: 'sandbox', event_id: eventId }).first();
const timeline = async (linkId: string) =>
  (await stack.request('GET', `/v1/payment_links/${linkId}/events`)).body.data as {
    type: string;
    data: Record<string, unknown>;
  }[];

it('a stored but unapplied payment is applied once by the reconciler, and the timeline says so', async () => {
  const { linkId, sessionId, event, raw } = await strandedPayment();

  // Within the grace period the event is left to the callback that may still be storing it.
  const young = await runPass(await ensureSchedule(3_600_000));
  expect(young.events.map((e) => e.eventId)).not.toContain(event.id);
  expect((await storedEvent(event.id)).processed_at).toBeNull();
  expect((await stack.request('GET', `/v1/payment_links/${linkId}`)).body).toMatchObject({
    status: 'active',
    amount_paid: 0,
  });

  // Created again (a restart with another grace period): the same schedule, updated.
  const handle = await ensureSchedule(0);
  const first = await runPass(handle);
  expect(first.events).toContainEqual({
    provider: 'sandbox',
    eventId: event.id,
    linkId,
    outcome: 'applied',
  });
  const paid = await stack.untilStatus(`/v1/payment_links/${linkId}`, 'paid');
  expect(paid).toMatchObject({ amount_paid: 2500, payments_count: 1 });
  expect((await storedEvent(event.id)).processed_at).not.toBeNull();
  expect(await stack.db('payment_sessions').where({ id: sessionId }).first()).toMatchObject({
    status: 'succeeded',
  });

  // A second pass, and the provider's own late retry, change nothing.
  const second = await runPass(handle);
  expect(second.events.map((e) => e.eventId)).not.toContain(event.id);
  const retry = await stack.sandboxCallback(raw);
  expect(await retry.json()).toEqual({ received: true, duplicate: true });

  const payments = (await stack.request('GET', `/v1/payment_links/${linkId}/payments`)).body.data;
  expect(payments).toHaveLength(1);
  expect(payments[0]).toMatchObject({ amount: 2500, status: 'succeeded' });
  expect(await stack.request('GET', `/v1/payment_links/${linkId}`)).toMatchObject({
    body: { status: 'paid', amount_paid: 2500, payments_count: 1 },
  });
  const events = await timeline(linkId);
  const reconciled = events.filter((e) => e.type === 'payment.reconciled');
  expect(reconciled).toHaveLength(1);
  expect(reconciled[0]?.data).toMatchObject({
    provider: 'sandbox',
    event_id: event.id,
    event_type: 'payment.succeeded',
    payment_id: event.data.payment_id,
    amount: 2500,
    currency: 'USD',
  });
  expect(events.filter((e) => e.type === 'payment_link.paid')).toHaveLength(1);
});

it('events that cannot be applied are retried later and later, so they never crowd out one that can', async () => {
  // More unreadable events than a pass takes, all older than the applicable one.
  const unreadable = Array.from({ length: 6 }, (_, i) => ({
    provider: 'sandbox',
    event_id: `evt_unreadable_${i}`,
    account_id: stack.account.accountId,
    type: 'payment.succeeded',
    payload: '{not json',
    received_at: stack.db.raw("now() - interval '1 hour'"),
  }));
  await stack.db('provider_events').insert(unreadable);
  const { linkId, event } = await strandedPayment();
  const handle = await ensureSchedule(0, 5);
  const beforeFirstPass = Date.now();

  const first = await runPass(handle);
  expect(first.events.map((e) => e.outcome)).toEqual(Array(5).fill('failed'));
  const second = await runPass(handle);
  expect(second.events).toContainEqual({
    provider: 'sandbox',
    eventId: event.id,
    linkId,
    outcome: 'applied',
  });
  await stack.untilStatus(`/v1/payment_links/${linkId}`, 'paid');

  const deferred = await stack.db('provider_events').where('event_id', 'like', 'evt_unreadable_%');
  expect(deferred.every((row) => row.processed_at === null)).toBe(true);
  // Each was tried once and waits at least a minute before the next try; the error is kept.
  expect(deferred.map((row) => row.reconcile_attempts).sort()).toEqual([1, 1, 1, 1, 1, 1]);
  for (const row of deferred) {
    expect(row.reconcile_error).toMatch(/JSON/);
    expect(row.reconcile_after.getTime()).toBeGreaterThanOrEqual(beforeFirstPass + 59_000);
  }
});

it('a duplicate that arrives while another attempt holds the lease is answered at once and left to it; a lapsed lease lets the retry apply it', async () => {
  const { linkId, event, raw } = await strandedPayment();
  const row = () => stack.db('provider_events').where({ provider: 'sandbox', event_id: event.id });
  await row().update({ applying_until: stack.db.raw("now() + interval '1 minute'") });

  const meanwhile = await stack.sandboxCallback(raw);
  expect(await meanwhile.json()).toEqual({ received: true, duplicate: true });
  // Nor does the reconciler take it from the holder.
  const pass = await runPass(await ensureSchedule(0));
  expect(pass.events.map((e) => e.eventId)).not.toContain(event.id);
  expect((await row().first()).processed_at).toBeNull();
  expect((await stack.request('GET', `/v1/payment_links/${linkId}`)).body.amount_paid).toBe(0);

  // The holder died (or gave the lease back after failing): the provider's retry applies it.
  await row().update({ applying_until: stack.db.raw("now() - interval '1 second'") });
  const retry = await stack.sandboxCallback(raw);
  expect(await retry.json()).toEqual({ received: true });
  expect(await stack.untilStatus(`/v1/payment_links/${linkId}`, 'paid')).toMatchObject({
    amount_paid: 2500,
    payments_count: 1,
  });
  expect(await row().first()).toMatchObject({ applying_until: null });
  expect((await row().first()).processed_at).not.toBeNull();
});
