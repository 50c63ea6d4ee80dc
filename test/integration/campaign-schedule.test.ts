/**
 * When a campaign's links go out, on the real stack: at a local time in each recipient's zone,
 * out of their quiet hours; and exactly once per recipient even when the worker dies mid-campaign.
 * A DST change cannot be waited for with the real clock: a campaign scheduled past one is checked for
 * its send instants here, and the days themselves in test/unit/campaign-send-times.test.ts.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { campaignLinkId, NO_RECIPIENT, recipientLinkBody } from '../../src/campaigns/recipient-link';
import { createCommerceStores } from '../../src/commerce/stores';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore } from '../../src/links/link-store';
import { createLogger } from '../../src/logger';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../workflows/payment-link/contract';
import {
  campaignStack,
  insertCampaign,
  linksOf,
  recipientsOf,
  type TestRecipient,
  untilCampaignStatus,
  untilLinks,
} from '../helpers/campaigns';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { CREATE_WAIT_MS, type Stack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';

const campaign = campaignStack();

let n = 0;
const person = (extra: Partial<TestRecipient> = {}): TestRecipient => {
  n += 1;
  return { name: `Person ${n}`, email: `someone${n}@example.com`, ...extra };
};

const account = () => ({
  id: campaign.stack.account.accountId,
  name: 'Test shop',
  timezone: TEST_ACCOUNT_ZONE,
});
const linkServiceOf = (s: Stack) =>
  createLinkService({
    temporal: s.temporal,
    links: createLinkStore(s.db),
    taskQueue: s.taskQueue,
    settings: DEFAULT_LIFECYCLE_SETTINGS,
    createWaitMs: CREATE_WAIT_MS,
    logger: createLogger('silent'),
    commerce: createCommerceStores(s.db),
  });

const TEMPLATE = {
  amount: 1000,
  currency: 'USD',
  description: 'Your invitation',
  channels: ['email' as const],
};
const start = (id: string) => campaign.stack.request('POST', `/v1/campaigns/${id}/start`);
const ms = (d: Date | string) => new Date(d).getTime();
/** A quiet window an hour wide, twelve hours away from `local`: it never holds a send here. */
const farQuiet = (local: DateTime) => ({
  start: local.plus({ hours: 12 }).toFormat('HH:mm'),
  end: local.plus({ hours: 13 }).toFormat('HH:mm'),
});

describe('local time', () => {
  it('sends at the same wall-clock time in each recipient zone, skipping zones where it has long passed', async () => {
    // One campaign per zone, its local time a few seconds ahead in that zone, to the second.
    const now = DateTime.utc().startOf('second');
    const plan = [
      { zone: 'Europe/Paris', twin: 'Europe/Berlin', inSeconds: 6 },
      { zone: 'America/New_York', twin: 'America/Toronto', inSeconds: 9 },
      { zone: 'Australia/Sydney', twin: 'Australia/Melbourne', inSeconds: 12 },
    ];
    const campaigns = [];
    for (const p of plan) {
      const local = now.plus({ seconds: p.inSeconds }).setZone(p.zone);
      const when = { date: local.toISODate() as string, time: local.toFormat('HH:mm:ss') };
      const recipients = [person({ timezone: p.zone }), person({ timezone: p.twin })];
      // The Paris campaign also reaches New York (the same wall time six hours later) and
      // Sydney (ten hours earlier: long past, skipped).
      if (p.zone === 'Europe/Paris')
        recipients.push(person({ timezone: 'America/New_York' }), person({ timezone: 'Australia/Sydney' }));
      const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
        link: { ...TEMPLATE, quiet_hours: farQuiet(local) },
        schedule: { send_at_local: when },
        recipients,
      });
      campaigns.push({ ...p, id, when, dueAt: ms(now.plus({ seconds: p.inSeconds }).toJSDate()) });
    }
    for (const c of campaigns) {
      const started = await start(c.id);
      expect(started.status).toBe(200);
      expect(started.body.status).toBe('scheduled');
    }

    const [paris, newYork, sydney] = campaigns as [
      (typeof campaigns)[0],
      (typeof campaigns)[0],
      (typeof campaigns)[0],
    ];
    await untilCampaignStatus(campaign.stack.db, newYork.id, 'completed');
    await untilCampaignStatus(campaign.stack.db, sydney.id, 'completed');
    await untilLinks(campaign.stack.db, paris.id, 2);

    const made: { dueAt: number; createdAt: number; campaign: number }[] = [];
    for (const [i, c] of campaigns.entries()) {
      const rows = await recipientsOf(campaign.stack.db, c.id);
      const links = await linksOf(campaign.stack.db, c.id);
      for (const r of rows.slice(0, 2)) {
        // Both zones of a campaign share their offset today: the same instant.
        expect(ms(r.send_at)).toBe(c.dueAt);
        expect(r.status).toBe('created');
        const link = links.find((l) => l.id === r.link_id);
        expect(link).toBeDefined();
        expect(ms(link.created_at)).toBeGreaterThanOrEqual(ms(r.send_at));
        made.push({ dueAt: c.dueAt, createdAt: ms(link.created_at), campaign: i });
      }
    }
    // Links went out in the order of their local times: Paris, then New York, then Sydney.
    const byCreation = [...made].sort((a, b) => a.createdAt - b.createdAt).map((m) => m.campaign);
    expect(byCreation).toEqual([0, 0, 1, 1, 2, 2]);

    const parisRows = await recipientsOf(campaign.stack.db, paris.id);
    const ny = parisRows[2];
    const syd = parisRows[3];
    const nyDue = DateTime.fromISO(`${paris.when.date}T${paris.when.time}`, { zone: 'America/New_York' });
    expect(ms(ny.send_at)).toBe(nyDue.toMillis());
    expect(ny.status).toBe('pending');
    expect(syd).toMatchObject({ status: 'failed', error: 'send_time_passed', link_id: null });
    // Still waiting for New York: running until it is cancelled.
    expect((await campaign.stack.request('POST', `/v1/campaigns/${paris.id}/cancel`)).body.status).toBe(
      'cancelled',
    );
    expect((await recipientsOf(campaign.stack.db, paris.id))[2].status).toBe('cancelled');
  });

  it('sends at the local time of a date past a DST change, not at the offset of the day it started', async () => {
    // Started in winter time; Paris and New York move their clocks before the send date, Sydney
    // not until after it; 02:30 on the night Paris springs forward does not exist there.
    const created = await campaign.stack.request('POST', '/v1/campaigns', {
      json: {
        name: 'Spring',
        link: { ...TEMPLATE, quiet_hours: null },
        schedule: { send_at_local: { date: '2027-03-29', time: '10:00' } },
      },
    });
    expect(created.status).toBe(201);
    const night = await campaign.stack.request('POST', '/v1/campaigns', {
      json: {
        name: 'The missing half hour',
        link: { ...TEMPLATE, quiet_hours: null },
        schedule: { send_at_local: { date: '2027-03-28', time: '02:30' } },
      },
    });
    expect(night.status).toBe(201);
    const zones = ['Europe/Paris', 'America/New_York', 'Australia/Sydney'];
    const imported = await campaign.stack.request('POST', `/v1/campaigns/${created.body.id}/recipients`, {
      json: { recipients: zones.map((timezone) => ({ ...person(), timezone })) },
    });
    expect(imported.body).toMatchObject({ accepted: 3, rejected: [] });
    await campaign.stack.request('POST', `/v1/campaigns/${night.body.id}/recipients`, {
      json: { recipients: [{ ...person(), timezone: 'Europe/Paris' }] },
    });
    for (const id of [created.body.id, night.body.id]) {
      const started = await start(id);
      expect(started.status).toBe(200);
      expect(started.body.status).toBe('scheduled');
    }

    const sendAt = async (id: string) =>
      eventually(async () => {
        const rows = await recipientsOf(campaign.stack.db, id);
        return rows.every((r) => r.send_at) ? rows.map((r) => new Date(r.send_at).toISOString()) : undefined;
      }, WAIT_MS);
    // 10:00 summer time in Paris (UTC+2) and New York (UTC-4); Sydney still on summer time (UTC+11).
    expect(await sendAt(created.body.id)).toEqual([
      '2027-03-29T08:00:00.000Z',
      '2027-03-29T14:00:00.000Z',
      '2027-03-28T23:00:00.000Z',
    ]);
    // The first valid instant after the gap: 03:00 summer time.
    expect(await sendAt(night.body.id)).toEqual(['2027-03-28T01:00:00.000Z']);
    expect(await linksOf(campaign.stack.db, created.body.id)).toHaveLength(0);
    for (const id of [created.body.id, night.body.id]) {
      expect((await campaign.stack.request('POST', `/v1/campaigns/${id}/cancel`)).body.status).toBe(
        'cancelled',
      );
    }
  });

  it('moves a send inside quiet hours to the end of the window, in the recipient zone', async () => {
    const now = DateTime.utc();
    // The next minute boundary at least five seconds away: where the quiet window ends.
    let boundary = now.startOf('minute').plus({ minutes: 1 });
    if (boundary.diff(now).as('seconds') < 5) boundary = boundary.plus({ minutes: 1 });
    const parisNow = now.setZone('Europe/Paris');
    // Quiet in Paris right now, until the boundary; New York (six hours behind) and Sydney (ten
    // ahead) are far from that wall-clock window.
    const quiet = {
      start: parisNow.minus({ minutes: 1 }).toFormat('HH:mm'),
      end: boundary.setZone('Europe/Paris').toFormat('HH:mm'),
    };
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: { ...TEMPLATE, quiet_hours: quiet },
      recipients: [
        person({ timezone: 'Europe/Paris' }),
        person({ timezone: 'America/New_York' }),
        person({ timezone: 'Australia/Sydney' }),
      ],
    });
    expect((await start(id)).status).toBe(200);
    await untilCampaignStatus(campaign.stack.db, id, 'completed', 120_000);

    const [paris, ny, sydney] = await recipientsOf(campaign.stack.db, id);
    expect(ms(paris.send_at)).toBe(boundary.toMillis());
    expect(ms(ny.send_at)).toBeLessThan(boundary.toMillis());
    expect(ms(sydney.send_at)).toBeLessThan(boundary.toMillis());
    const links = await linksOf(campaign.stack.db, id);
    const createdAt = (linkId: string) => ms(links.find((l) => l.id === linkId)?.created_at);
    expect(createdAt(paris.link_id)).toBeGreaterThanOrEqual(boundary.toMillis());
    expect(createdAt(ny.link_id)).toBeLessThan(boundary.toMillis());
    expect(createdAt(sydney.link_id)).toBeLessThan(boundary.toMillis());
    // The Paris mail arrived after the quiet window, not before.
    const mail = await eventually(
      async () => campaign.stack.peers.smtp.messages.find((m) => m.envelopeTo.includes(paris.email)),
      WAIT_MS,
      'the mail to Paris',
    );
    expect(mail.receivedAt.getTime()).toBeGreaterThanOrEqual(boundary.toMillis());
  }, 180_000);
});

describe('a worker that dies mid-campaign', () => {
  it('makes no second link and sends no second message to anyone', async () => {
    const recipients = Array.from({ length: 25 }, () => person({ timezone: 'UTC' }));
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: { ...TEMPLATE, quiet_hours: null },
      throttle: { links_per_second: 5 },
      recipients,
    });
    // A worker that died right after starting recipient 3's link workflow, before marking the
    // recipient: the link exists under its derived id, the row still says pending.
    const template = { ...TEMPLATE, quiet_hours: null };
    const built = recipientLinkBody(template, { ...NO_RECIPIENT, ...recipients[2], metadata: {} }, id);
    if (!built.ok) throw new Error(built.error);
    await linkServiceOf(campaign.stack).create(account(), built.body, { linkId: campaignLinkId(id, 3) });

    expect((await start(id)).status).toBe(200);
    await untilLinks(campaign.stack.db, id, 6);
    // While a page is running, the worker goes away (the page is abandoned), another takes over.
    const handle = campaign.stack.temporal.workflow.getHandle(id);
    await eventually(
      async () =>
        ((await handle.describe()).raw.pendingActivities ?? []).find(
          (a) => a.activityType?.name === 'createCampaignLinks' && a.state === 2 /* STARTED */,
        ),
      WAIT_MS,
      'a page to be running',
    );
    await campaign.stack.stopWorker();
    await campaign.stack.startWorker();
    await untilCampaignStatus(campaign.stack.db, id, 'completed', 120_000);

    const links = await linksOf(campaign.stack.db, id);
    expect(links).toHaveLength(25);
    const perRecipient = new Map<string, number>();
    for (const l of links) perRecipient.set(l.customer.email, (perRecipient.get(l.customer.email) ?? 0) + 1);
    expect([...perRecipient.values()].every((count) => count === 1)).toBe(true);
    expect(perRecipient.size).toBe(25);
    const rows = await recipientsOf(campaign.stack.db, id);
    for (const r of rows) expect(r).toMatchObject({ status: 'created', link_id: campaignLinkId(id, r.seq) });

    // Every message has reached a final status: the count in the SMTP sink is final.
    await eventually(
      async () => {
        const sent = await campaign.stack.db('notifications').whereIn(
          'link_id',
          links.map((l) => l.id),
        );
        return sent.length === 25 && sent.every((s) => !['pending', 'sending'].includes(s.status))
          ? sent
          : undefined;
      },
      // A send the dying worker had picked up is retried once its activity times out (a minute).
      150_000,
      'every campaign email to be sent',
    );
    for (const r of recipients) {
      expect(
        campaign.stack.peers.smtp.messages.filter((m) => m.envelopeTo.includes(r.email as string)),
      ).toHaveLength(1);
    }
    // The abandoned page was retried by the new worker.
    const history = (await handle.fetchHistory()).events ?? [];
    const retried = history.some(
      (e) =>
        (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 ||
        (e.activityTaskFailedEventAttributes !== undefined && e.activityTaskFailedEventAttributes !== null) ||
        (e.activityTaskTimedOutEventAttributes !== undefined &&
          e.activityTaskTimedOutEventAttributes !== null),
    );
    expect(retried).toBe(true);
  }, 360_000);
});
