/**
 * `precomputed-instants`: a link's reminder instants are computed outside its workflow (the API at
 * create and at the update that changes them; the `planReminders` activity when a run has none)
 * and the run only carries them. On the real dev server with the production worker wiring.
 */

import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import type { temporal } from '@temporalio/proto';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommerceStores } from '../../src/commerce/stores';
import { CreatePaymentLinkSchema } from '../../src/links/create-link';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore } from '../../src/links/link-store';
import { reminderPlan } from '../../src/links/reminder-schedule';
import { createLogger } from '../../src/logger';
import {
  cancelUpdate,
  DEFAULT_LIFECYCLE_SETTINGS,
  linkStateQuery,
  type PaymentLinkWorkflowInput,
  type ReminderPlan,
  updateLinkUpdate,
} from '../../workflows/payment-link/contract';
import { basisOf } from '../../workflows/payment-link/reminder-plan';
import { FAST_SETTINGS, type LinkHandle, linkTools } from '../helpers/links';
import { PARIS, parisDstPolicy } from '../helpers/paris-dst';
import { CREATE_WAIT_MS, type Stack, startStack } from '../helpers/stack';
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

const customer = { name: 'Ada', email: 'ada@example.com', timezone: 'UTC' };
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The activity types of the local activities a run recorded, in order. */
async function localActivities(handle: LinkHandle, runId?: string): Promise<string[]> {
  const run = runId ? stack.temporal.workflow.getHandle(handle.workflowId, runId) : handle;
  const events: HistoryEvent[] = (await run.fetchHistory()).events ?? [];
  return events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => {
      // The SDK's core writes the marker's bookkeeping (activity type, attempt…) as plain JSON.
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      const meta = JSON.parse(Buffer.from(data ?? new Uint8Array()).toString()) as Record<string, unknown>;
      return String(meta.activity_type ?? meta.activityType);
    });
}

/** What the run was started with, decrypted as the worker reads it. */
async function startInput(handle: LinkHandle, runId?: string): Promise<PaymentLinkWorkflowInput> {
  const run = runId ? stack.temporal.workflow.getHandle(handle.workflowId, runId) : handle;
  const [first] = (await run.fetchHistory()).events ?? [];
  const payload = first?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return (await decodeOptionalSinglePayload(
    stack.temporal.options.loadedDataConverter,
    payload,
  )) as PaymentLinkWorkflowInput;
}

const remindedAt = async (id: string, count: number, timeoutMs = WAIT_MS) =>
  (await t.untilEvent(id, 'payment_link.reminded', count, timeoutMs)).map(
    (e) => e.data.scheduled_for as string,
  );

describe.concurrent('the run carries its instants', () => {
  it('reminds at the instants it was given, not at what its policy would compute', async () => {
    // The policy says a day after creation; the plan (for exactly these terms) says 2 s and 4 s.
    // A run that computed anything itself would wait a day.
    const { id, handle, terms } = await t.startLink(
      {
        amount: 2000,
        customer,
        channels: ['email'],
        quiet_hours: null,
        reminders: { after_created: ['P1D'] },
      },
      {
        reminderPlan: (terms) => ({
          basis: basisOf(terms),
          reminders: [2000, 4000].map((ms) => ({
            at: new Date(Date.parse(terms.createdAt) + ms).toISOString(),
            source: 'after_created:P1D',
          })),
        }),
      },
    );
    const created = Date.parse(terms.createdAt);
    const reminded = await remindedAt(id, 2);
    expect(reminded.map((at) => Date.parse(at) - created)).toEqual([2000, 4000]);
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBeNull(); // the policy's P1D is not in the plan
    expect(await localActivities(handle)).toEqual(['persistLink']); // nothing planned in the run
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  });

  it('a start with no plan (an older API) is planned once by the planReminders activity', async () => {
    const { id, handle, terms } = await t.startLink({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      reminders: { after_created: ['PT2S'] },
    });
    expect(await remindedAt(id, 1)).toEqual([new Date(Date.parse(terms.createdAt) + 2000).toISOString()]);
    expect(await localActivities(handle)).toEqual(['planReminders', 'persistLink']);
    expect((await handle.query(linkStateQuery)).reminderPlan).toEqual(reminderPlan(terms));
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  });

  it('an update through the API brings its instants; one without, or with a stale basis, is planned by the activity', async () => {
    const { id, handle, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT1H',
      reminders: { after_created: ['PT50M'] },
    });
    const created = row.created_at.getTime();
    const next = async () => (await handle.query(linkStateQuery)).nextReminderAt;
    expect(await next()).toBe(new Date(created + 50 * 60_000).toISOString());

    // The API computes the instants of the new policy and sends them with the change.
    const changed = await stack.request('POST', `/v1/payment_links/${id}`, {
      json: { reminders: { after_created: ['PT40M'] } },
    });
    expect(changed.status).toBe(200);
    expect(await next()).toBe(new Date(created + 40 * 60_000).toISOString());
    expect(await localActivities(handle)).not.toContain('planReminders');

    // Straight to the workflow without a plan: it plans the change itself.
    await handle.executeUpdate(updateLinkUpdate, {
      args: [{ reminders: { afterCreated: ['PT30M'], beforeExpiry: [] } }],
    });
    expect(await next()).toBe(new Date(created + 30 * 60_000).toISOString());
    expect((await localActivities(handle)).filter((a) => a === 'planReminders')).toHaveLength(1);

    // A plan computed for other terms (an expiry that has changed since) is not taken.
    const terms = (await handle.query(linkStateQuery)).terms;
    const stale: ReminderPlan = {
      basis: { ...basisOf(terms), expiresAt: new Date(created + 2 * 3_600_000).toISOString() },
      reminders: [{ at: new Date(created + 5 * 60_000).toISOString(), source: 'after_created:PT20M' }],
    };
    await handle.executeUpdate(updateLinkUpdate, {
      args: [{ reminders: { afterCreated: ['PT20M'], beforeExpiry: [] } }, stale],
    });
    expect(await next()).toBe(new Date(created + 20 * 60_000).toISOString());
    expect((await localActivities(handle)).filter((a) => a === 'planReminders')).toHaveLength(2);
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  });

  it('an extension through the API brings the instants of the reminders it moves', async () => {
    const { id, handle, row } = await t.create({
      amount: 2000,
      customer,
      channels: ['email'],
      quiet_hours: null,
      expires_in: 'PT1H',
      reminders: { before_expiry: ['PT10M'] },
    });
    const later = new Date(row.expires_at.getTime() + 3_600_000);
    const changed = await stack.request('POST', `/v1/payment_links/${id}`, {
      json: { expires_at: later.toISOString() },
    });
    expect(changed.status).toBe(200);
    expect((await handle.query(linkStateQuery)).nextReminderAt).toBe(
      new Date(later.getTime() - 10 * 60_000).toISOString(),
    );
    expect(await localActivities(handle)).not.toContain('planReminders');
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  });

  it('continue-as-new carries the plan: the next run does not plan again', async () => {
    const { id, handle, row } = await t.create(
      {
        amount: 2000,
        customer,
        channels: ['email'],
        quiet_hours: null,
        expires_in: 'PT1M',
        reminders: { after_created: ['PT12S'] },
      },
      { ...FAST_SETTINGS, continueAsNewAfterEvents: 20 },
    );
    const firstRunId = (await handle.describe()).runId;
    const plan = (await startInput(handle)).reminderPlan;
    expect(plan?.reminders.map((r) => r.at)).toEqual([
      new Date(row.created_at.getTime() + 12_000).toISOString(),
    ]);
    for (let n = 0; n < 4; n++)
      await handle.executeUpdate(updateLinkUpdate, { args: [{ metadata: { n: String(n) } }] });
    const current = await eventually(
      async () => {
        const d = await handle.describe();
        return d.runId !== firstRunId ? d : undefined;
      },
      WAIT_MS,
      'the run to continue as new',
    );
    expect((await startInput(handle, current.runId)).resumeFrom?.reminderPlan).toEqual(plan);
    expect(await remindedAt(id, 1)).toEqual(plan?.reminders.map((r) => r.at));
    expect(await localActivities(handle, current.runId)).not.toContain('planReminders');
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  });
});

describe.concurrent('Europe/Paris across a DST change', () => {
  it('the API plans a link at create from its own clock (fixed: the day before the spring-forward change)', async () => {
    // The service's clock, not the wall clock: 2027-03-27 09:00 CET. Nothing here waits for it.
    const service = createLinkService({
      temporal: stack.temporal,
      links: createLinkStore(stack.db),
      taskQueue: stack.taskQueue,
      settings: DEFAULT_LIFECYCLE_SETTINGS,
      createWaitMs: CREATE_WAIT_MS,
      logger: createLogger('silent'),
      commerce: createCommerceStores(stack.db),
      now: () => new Date('2027-03-27T08:00:00.000Z'),
    });
    const row = await service.create(
      t.account,
      CreatePaymentLinkSchema.parse({
        amount: 2000,
        currency: 'EUR',
        customer: { name: 'Ada', timezone: PARIS },
        expires_in: 'P7D',
        reminders: { after_created: ['P1D', 'PT24H'] },
        quiet_hours: { start: '21:00', end: '09:30' },
      }),
    );
    const handle: LinkHandle = stack.temporal.workflow.getHandle(row.id);
    expect(row.created_at.toISOString()).toBe('2027-03-27T08:00:00.000Z');
    expect((await startInput(handle)).reminderPlan?.reminders).toEqual([
      // P1D: 09:00 CEST on the 28th (an hour less than a day later), quiet until 09:30 CEST.
      { at: '2027-03-28T07:30:00.000Z', source: 'after_created:P1D' },
      // PT24H: exactly a day, 10:00 CEST, outside the window.
      { at: '2027-03-28T08:00:00.000Z', source: 'after_created:PT24H' },
    ]);
    // Closed whatever today's date (a link of 2027 that has expired by then is closed already).
    await handle.executeUpdate(cancelUpdate, { args: [{}] }).catch(() => undefined);
  });

  it('a reminder across the next change of offset, in quiet hours, goes out when the window ends', async () => {
    const policy = parisDstPolicy(Date.now());
    const { id, handle } = await t.create({
      amount: 2000,
      customer: { name: 'Ada', email: 'ada@example.com', timezone: PARIS },
      channels: ['email'],
      ...policy.body,
    });
    const plan = (await startInput(handle)).reminderPlan;
    expect(plan?.reminders.map((r) => r.at)).toEqual([new Date(policy.windowEnd).toISOString()]);
    // The offset really changes between the reminder and the expiry: counted in exact days the
    // reminder would be an hour off, so the instant came from Paris's rules.
    const expires = DateTime.fromISO(policy.body.expires_at, { zone: PARIS });
    const days = Number(policy.body.reminders.before_expiry[0]?.slice(1, -1));
    expect(expires.offset).not.toBe(DateTime.fromMillis(policy.dueAt, { zone: PARIS }).offset);
    expect(Math.abs(expires.toMillis() - days * 86_400_000 - policy.dueAt)).toBe(3_600_000);
    expect(await remindedAt(id, 1, policy.windowEnd - Date.now() + WAIT_MS)).toEqual([
      new Date(policy.windowEnd).toISOString(),
    ]);
    const [sent] = (await t.events(id)).filter((e) => e.type === 'payment_link.reminded');
    expect(sent?.created_at.getTime()).toBeGreaterThanOrEqual(policy.windowEnd);
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
  }, 180_000); // the quiet window ends up to 68 s from now
});
