/**
 * Records the histories of the lifecycle's main paths from real runs, into the folder of the
 * workflow's current version (test/fixtures/histories/<n>-<newest patch>). Run it once after a
 * versioned (patched) workflow change, into a new folder: the replay test then guards the new
 * histories as well as every older folder, which are kept as they are, never re-recorded.
 *
 * The stack encrypts payloads with the tests' fixed codec key (TEST_CODEC_KEYS), so what is
 * recorded now is encrypted. RECORD_HISTORIES_DIR names another folder for a set recorded for a
 * reason other than a workflow patch (3-encrypted-payloads: the first set with the codec on).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { LinkChange } from '../../src/links/link-store';
import { PROJECT_ROOT } from '../../src/paths';
import type { RecordPaymentsInput } from '../../src/payments/record-payment';
import {
  cancelUpdate,
  extendExpiryUpdate,
  handOverUpdate,
  isTerminal,
  resendUpdate,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import { PATCHES } from '../../workflows/payment-link/workflow';
import { activityHolds } from '../helpers/activity-hold';
import { FAST_SETTINGS, type LinkHandle, linkTools } from '../helpers/links';
import { PARIS, parisDstPolicy } from '../helpers/paris-dst';
import { type Stack, startStack } from '../helpers/stack';
import { WAIT_MS } from '../helpers/temporal';
import { exportHistory } from './export-history';

const DIR = join(
  PROJECT_ROOT,
  'test/fixtures/histories',
  // The next version's folder: a recorded set is never written again.
  process.env.RECORD_HISTORIES_DIR ?? `8-${PATCHES.finalClose}-and-${PATCHES.precomputedInstants}`,
);
const holds = activityHolds();
let stack: Stack;
let t: ReturnType<typeof linkTools>;
beforeAll(async () => {
  // Holds are armed only by the recordings of races (a payment during a closing write…).
  stack = await startStack({ activityInterceptors: [holds.interceptor] });
  t = linkTools(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.com', phone: '+14155550123', timezone: 'UTC' };
const parisCustomer = { name: 'Ada', email: 'ada@example.com', timezone: PARIS };

async function save(name: string, handle: LinkHandle, runId?: string): Promise<void> {
  const file = join(DIR, `${name}.json`);
  // Recorded histories are what running links did: they are kept, never overwritten.
  if (existsSync(file)) throw new Error(`${file} exists: record a new version into a new folder`);
  await handle.result();
  const { workflowId, runId: latest } = await handle.describe();
  mkdirSync(DIR, { recursive: true });
  writeFileSync(file, await exportHistory(workflowId, runId ?? latest));
}

describe.concurrent('record', () => {
  it('paid', async () => {
    const { handle } = await t.create({
      amount: 2000,
      customer,
      channels: ['email', 'sms'],
      quiet_hours: null,
      reminders: { after_created: ['PT1S'] },
    });
    await t.untilEvent((await handle.describe()).workflowId, 'payment_link.reminded', 2);
    await t.pay(handle, { paymentId: 'pi_rec_paid', amount: 2000 });
    await save('paid', handle);
  });

  it('partially paid, then paid', async () => {
    const { handle } = await t.create({ amount: 3000, accept_partial: true });
    await t.pay(handle, { paymentId: 'pi_rec_p1', amount: 1000 });
    await t.pay(handle, { paymentId: 'pi_rec_p1', amount: 1000 });
    await t.pay(handle, { paymentId: 'pi_rec_p2', amount: 2500 });
    await save('partial-overpaid', handle);
  });

  it('reminded, then expired, then a late payment', async () => {
    const { handle } = await t.create(
      {
        amount: 2000,
        customer,
        channels: ['email'],
        quiet_hours: null,
        expires_in: 'PT3S',
        reminders: { after_created: ['PT1S'], before_expiry: ['PT1S'] },
      },
      { ...FAST_SETTINGS, latePaymentWindowMs: 3000 },
    );
    const id = (await handle.describe()).workflowId;
    await t.untilStatus(id, 'expired');
    // A run with a late-payment window records it; a lean run has ended by now (the callback
    // path records such a payment), so the signal finds no workflow.
    await t.pay(handle, { paymentId: 'pi_rec_late', amount: 2000 }).catch((err: unknown) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    });
    await save('expired-late-payment', handle);
  });

  it('updated, extended, resent, cancelled', async () => {
    const { handle } = await t.create({ amount: 2000, customer, channels: ['email'], expires_in: 'PT1M' });
    await handle.executeUpdate(updateLinkUpdate, {
      args: [{ description: 'changed', metadata: { a: '1' } }],
    });
    await handle.executeUpdate(extendExpiryUpdate, {
      args: [{ expiresAt: new Date(Date.now() + 120_000).toISOString() }],
    });
    await handle.executeUpdate(resendUpdate, { args: [{ channel: 'sms' }] });
    await t.pay(handle, { paymentId: 'pi_rec_eur', amount: 2000, currency: 'EUR' });
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'recorded' }] });
    await save('updated-cancelled', handle);
  });

  it('multi-use, completed', async () => {
    const { handle } = await t.create({ amount: 500, max_payments: 2 });
    await t.pay(handle, { paymentId: 'pi_rec_m1', amount: 500 });
    await t.pay(handle, { paymentId: 'pi_rec_m2', amount: 500 });
    await save('multi-use-completed', handle);
  });

  it('continued as new', async () => {
    const { handle } = await t.create(
      {
        amount: 2000,
        customer,
        channels: ['email'],
        quiet_hours: null,
        reminders: { after_created: ['PT4S'] },
      },
      { ...FAST_SETTINGS, continueAsNewAfterEvents: 25 },
    );
    const { workflowId, runId: firstRunId } = await handle.describe();
    for (let n = 0; n < 4; n++) {
      await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { n: String(n) } }] });
    }
    await t.untilEvent(workflowId, 'payment_link.reminded');
    await t.pay(handle, { paymentId: 'pi_rec_can', amount: 2000 });
    await save('continued-as-new-first-run', handle, firstRunId);
    await save('continued-as-new-last-run', handle);
  });

  it('payments recorded together, with a redelivery', async () => {
    const { handle } = await t.create({ amount: 500, max_payments: 5 });
    await Promise.all(
      ['pi_rec_b1', 'pi_rec_b2', 'pi_rec_b1', 'pi_rec_b3', 'pi_rec_b4', 'pi_rec_b5'].map((paymentId) =>
        t.pay(handle, { paymentId, amount: 500 }),
      ),
    );
    await save('batched-payments', handle);
  });

  it('an invoice settled by one link closes the other; the over-collection is flagged', async () => {
    const invoice = await stack.request('POST', '/v1/invoices', {
      json: { number: `REC-${Date.now()}`, amount_due: 4000, currency: 'USD', due_date: '2030-01-01' },
    });
    const older = await t.create({ amount: 4000, invoice_id: invoice.body.id, accept_partial: true });
    // Two open links for one invoice exist only from before the guard.
    await stack.db('payment_links').where({ id: older.id }).update({ holds_document: false });
    const newer = await t.create({ amount: 4000, invoice_id: invoice.body.id, accept_partial: true });
    await t.pay(newer.handle, { paymentId: 'pi_rec_doc1', amount: 1000 });
    await t.untilStatus(newer.id, 'partially_paid');
    await t.pay(older.handle, { paymentId: 'pi_rec_doc2', amount: 4000 });
    await save('document-settled-payer', older.handle);
    await save('document-settled-closed', newer.handle);
  });

  // `precomputed-instants`: the plan comes with the start, with the API's update, or from the
  // planReminders activity when a start or an update brings none.
  it('Paris: a reminder across a DST change, moved out of quiet hours, planned at create', async () => {
    const policy = parisDstPolicy(Date.now());
    const { id, handle } = await t.create({
      amount: 2000,
      customer: parisCustomer,
      channels: ['email'],
      ...policy.body,
    });
    await t.untilEvent(id, 'payment_link.reminded', 1, policy.windowEnd - Date.now() + WAIT_MS);
    await t.pay(handle, { paymentId: 'pi_rec_paris', amount: 2000 });
    await save('paris-dst-quiet-hours', handle);
  });

  it('Paris: the same reminder planned by the API update that sets it (and the extension)', async () => {
    const policy = parisDstPolicy(Date.now());
    const expiresAt = DateTime.fromISO(policy.body.expires_at, { zone: PARIS });
    const { id, handle } = await t.create({
      amount: 2000,
      customer: parisCustomer,
      channels: ['email'],
      quiet_hours: null,
      expires_at: expiresAt.minus({ days: 1 }).toUTC().toISO(),
    });
    // Through the API: the extension and the change each carry the plan the API computed.
    const changed = await stack.request('POST', `/v1/payment_links/${id}`, { json: policy.body });
    if (changed.status !== 200) throw new Error(`update answered ${changed.status}`);
    await t.untilEvent(id, 'payment_link.reminded', 1, policy.windowEnd - Date.now() + WAIT_MS);
    await t.pay(handle, { paymentId: 'pi_rec_paris_upd', amount: 2000 });
    await save('paris-dst-updated', handle);
  });

  it('started with no plan (an older API): the run asks planReminders', async () => {
    const { id, handle } = await t.startLink({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT1S'] },
    });
    await t.untilEvent(id, 'payment_link.reminded');
    await t.pay(handle, { paymentId: 'pi_rec_noplan', amount: 2000 });
    await save('planned-by-activity', handle);
  });

  it('data Postgres refuses: a payment kept, a change refused', async () => {
    const { handle } = await t.create({ amount: 2000, accept_partial: true });
    await t.pay(handle, { paymentId: 'pi_rec_bad\u0000', amount: 500 });
    await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { '\ud800': 'x' } }] }).catch(() => {});
    await t.pay(handle, { paymentId: 'pi_rec_rest', amount: 1500 });
    await save('data-errors', handle);
  });

  // Since `final-close`.
  it('a payment while the expiry is being written: expired, the payment late', async () => {
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
    const held = holds.hold((type, args) => {
      const change = args[0] as LinkChange;
      return type === 'recordChange' && change.linkId === id && isTerminal(change.patch?.status ?? 'active');
    });
    await t.untilEvent(id, 'payment_link.sent');
    await held.reached;
    await t.pay(handle, { paymentId: 'pi_rec_race', amount: 2000 });
    held.release();
    await save('payment-during-expiry', handle);
  });

  it('a cancel while payments arrive: cancelled, the payment late', async () => {
    const { id, handle } = await t.create({ amount: 2000, expires_in: 'PT5M' }, FAST_SETTINGS);
    const held = holds.hold((type, args) => {
      const change = args[0] as LinkChange;
      return type === 'recordChange' && change.linkId === id && isTerminal(change.patch?.status ?? 'active');
    });
    const cancelled = handle.executeUpdate(cancelUpdate, { args: [{ reason: 'recorded' }] });
    await held.reached;
    await t.pay(handle, { paymentId: 'pi_rec_race_cancel', amount: 2000 });
    held.release();
    await cancelled;
    await save('payment-during-cancel', handle);
  });

  it('a busy link hands over with payments queued; the next run takes them and completes', async () => {
    const { id, handle } = await t.create(
      { amount: 500, max_payments: 8 },
      { ...FAST_SETTINGS, continueAsNewAfterSignals: 3 },
    );
    const { runId: firstRunId } = await handle.describe();
    const held = holds.hold(
      (type, args) => type === 'recordPayments' && (args[0] as RecordPaymentsInput).linkId === id,
      'before',
    );
    await t.pay(handle, { paymentId: 'pi_rec_busy_0', amount: 500 });
    await held.reached;
    for (let n = 1; n < 8; n++) await t.pay(handle, { paymentId: `pi_rec_busy_${n}`, amount: 500 });
    held.release();
    await save('busy-handed-over-first-run', handle, firstRunId);
    await save('busy-handed-over-last-run', handle);
  });

  it('asked to hand over, then paid', async () => {
    const { handle } = await t.create({ amount: 2000 });
    const { runId: firstRunId } = await handle.describe();
    await handle.executeUpdate(handOverUpdate);
    await t.pay(handle, { paymentId: 'pi_rec_asked', amount: 2000 });
    await save('hand-over-asked-first-run', handle, firstRunId);
    await save('hand-over-asked-last-run', handle);
  });
});
