/**
 * Running campaigns on the real stack: links made at the throttle's pace, pause / resume / cancel
 * through the API, continue-as-new over many pages, single-link campaigns and the start rules.
 */
import { describe, expect, it } from 'vitest';
import { createCampaignEngine } from '../../src/campaigns/engine';
import { campaignLinkId } from '../../src/campaigns/recipient-link';
import { createCampaignStore } from '../../src/campaigns/store';
import { campaignWorkflowId } from '../../workflows/campaign/contract';
import { linkWorkflowId, SearchAttributes } from '../../workflows/payment-link/contract';
import {
  campaignRow,
  campaignStack,
  insertCampaign,
  linksOf,
  recipientsOf,
  type TestRecipient,
  untilCampaignStatus,
  untilLinks,
} from '../helpers/campaigns';
import { TEST_ACCOUNT_ZONE } from '../helpers/clock';
import { eventually, WAIT_MS } from '../helpers/temporal';

const campaign = campaignStack();

let n = 0;
const people = (count: number, extra: Partial<TestRecipient> = {}): TestRecipient[] =>
  Array.from({ length: count }, () => {
    n += 1;
    return { name: `Person ${n}`, email: `person${n}@example.com`, reference: `ref-${n}`, ...extra };
  });

const TEMPLATE = {
  amount: 2500,
  currency: 'EUR',
  description: 'Hello {name}, {amount} for {reference} ({metadata.plan})',
  channels: ['email' as const],
  expires_in: 'P7D',
  quiet_hours: null,
};

const start = (id: string, json?: unknown) =>
  campaign.stack.request('POST', `/v1/campaigns/${id}/start`, json === undefined ? {} : { json });

const ms = (d: Date | string) => new Date(d).getTime();

describe('throttle', () => {
  it('creates links at links_per_second, each sending its message, placeholders filled', async () => {
    const recipients = people(40, { metadata: { plan: 'gold' } });
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 5, email_per_second: 20 },
      recipients,
    });
    const started = await start(id);
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ id, object: 'campaign' });
    expect(['scheduled', 'running']).toContain(started.body.status);

    await untilCampaignStatus(campaign.stack.db, id, 'completed', 90_000);
    const links = await linksOf(campaign.stack.db, id);
    expect(links).toHaveLength(40);
    // The throttle is a ceiling on the links' workflow starts (Temporal's own start times): no
    // window holds more than its share at 5/s, give or take the ceiling's one-link allowance and
    // some RPC jitter. That also means the 40 were paced (all at once would break it from the
    // first to the last); a loaded machine may well be slower than 5/s, which is not asserted.
    const starts = await Promise.all(
      links.map(async (l) =>
        ms((await campaign.stack.temporal.workflow.getHandle(linkWorkflowId(l.id)).describe()).startTime),
      ),
    );
    starts.sort((a, b) => a - b);
    const intervalMs = 200;
    const jitterMs = 1000;
    for (let i = 0; i < starts.length; i++) {
      for (let j = i + 1; j < starts.length; j++) {
        // j − i + 1 starts within t_j − t_i: at most one interval per start after the first, less two.
        expect((starts[j] as number) - (starts[i] as number)).toBeGreaterThanOrEqual(
          (j - i - 2) * intervalMs - jitterMs,
        );
      }
    }

    const rows = await recipientsOf(campaign.stack.db, id);
    for (const r of rows) {
      expect(r.status).toBe('created');
      expect(r.link_id).toBe(campaignLinkId(id, r.seq));
    }
    const first = links.find((l) => l.id === campaignLinkId(id, 1));
    expect(first).toMatchObject({
      amount: 2500,
      currency: 'EUR',
      reference: recipients[0]?.reference,
      campaign_id: id,
      channels: ['email'],
    });
    expect(first?.description).toBe(
      `Hello ${recipients[0]?.name}, €25.00 for ${recipients[0]?.reference} (gold)`,
    );
    expect(first?.customer).toMatchObject({ email: recipients[0]?.email, name: recipients[0]?.name });
    // Each recipient's link sent them one email.
    await eventually(
      async () =>
        recipients.every((r) =>
          campaign.stack.peers.smtp.messages.some((m) => m.envelopeTo.includes(r.email as string)),
        )
          ? true
          : undefined,
      WAIT_MS,
      'an email to every recipient',
    );
    // The campaign id is on every link's workflow as its CampaignId search attribute.
    const desc = await campaign.stack.temporal.workflow.getHandle(campaignLinkId(id, 1)).describe();
    expect(desc.typedSearchAttributes.get(SearchAttributes.CampaignId)).toBe(id);
  });
});

describe('refused links', () => {
  it('marks a recipient failed when their link workflow refuses the link; the others are created', async () => {
    // The pages do not wait for rows: the refusal is learnt from the link's ended run.
    const taken = await campaign.stack.request('POST', '/v1/payment_links', {
      json: { amount: 100, currency: 'EUR', reference: `taken-${Date.now()}` },
    });
    expect(taken.status).toBe(201);
    const recipients = [...people(2), ...people(1, { reference: taken.body.reference }), ...people(2)];
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 20 },
      recipients,
    });
    expect((await start(id)).status).toBe(200);
    await untilCampaignStatus(campaign.stack.db, id, 'completed', 90_000);
    const rows = await recipientsOf(campaign.stack.db, id);
    const refused = rows.find((r) => r.seq === 3);
    expect(refused).toMatchObject({ status: 'failed', link_id: null });
    expect(refused?.error).toContain('duplicate_reference');
    for (const r of rows.filter((r) => r.seq !== 3)) {
      expect(r).toMatchObject({ status: 'created', link_id: campaignLinkId(id, r.seq) });
    }
    const links = await linksOf(campaign.stack.db, id);
    expect(links.map((l) => l.id).sort()).toEqual(
      rows
        .filter((r) => r.seq !== 3)
        .map((r) => campaignLinkId(id, r.seq))
        .sort(),
    );
  });
});

describe('pause, resume, cancel', () => {
  it('pause stops link creation, resume continues, cancel with cancel_links cancels the links sent', async () => {
    const recipients = people(40);
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 4 },
      recipients,
    });
    expect((await start(id)).status).toBe(200);
    await untilLinks(campaign.stack.db, id, 3);

    const paused = await campaign.stack.request('POST', `/v1/campaigns/${id}/pause`);
    const pausedAt = Date.now();
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');
    expect((await campaignRow(campaign.stack.db, id)).status).toBe('paused');
    const atPause = await linksOf(campaign.stack.db, id);
    // Nothing made after the pause answered: the page running then had finished.
    for (const l of atPause) expect(ms(l.created_at)).toBeLessThanOrEqual(pausedAt);
    // The workflow is idle: no page is scheduled or running.
    const handle = campaign.stack.temporal.workflow.getHandle(campaignWorkflowId(id));
    expect((await handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);
    // While paused, wait for something real: every link made so far has mailed its recipient.
    await eventually(
      async () =>
        atPause.every((l) =>
          campaign.stack.peers.smtp.messages.some((m) => m.envelopeTo.includes(l.customer.email)),
        )
          ? true
          : undefined,
      WAIT_MS,
      'the emails of the links made before the pause',
    );
    expect(await linksOf(campaign.stack.db, id)).toHaveLength(atPause.length);
    // Pausing again answers the same.
    expect((await campaign.stack.request('POST', `/v1/campaigns/${id}/pause`)).body.status).toBe('paused');

    const resumedAt = Date.now();
    const resumed = await campaign.stack.request('POST', `/v1/campaigns/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('running');
    const afterResume = await untilLinks(campaign.stack.db, id, atPause.length + 3);
    for (const l of afterResume) {
      const t = ms(l.created_at);
      expect(t <= pausedAt || t >= resumedAt).toBe(true);
    }

    const cancelled = await campaign.stack.request('POST', `/v1/campaigns/${id}/cancel`, {
      json: { cancel_links: true },
    });
    const cancelledAt = Date.now();
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await campaignRow(campaign.stack.db, id)).cancelled_at).not.toBeNull();
    const sent = await linksOf(campaign.stack.db, id);
    expect(sent.length).toBeLessThan(40);
    for (const l of sent) expect(ms(l.created_at)).toBeLessThanOrEqual(cancelledAt);
    // Every link already sent is cancelled, through its workflow.
    await eventually(
      async () => {
        const links = await linksOf(campaign.stack.db, id);
        return links.every((l) => l.status === 'cancelled') ? links : undefined;
      },
      WAIT_MS,
      'every link of the campaign to be cancelled',
    );
    const rows = await recipientsOf(campaign.stack.db, id);
    expect(rows.filter((r) => r.status === 'pending')).toHaveLength(0);
    expect(rows.filter((r) => r.status === 'created')).toHaveLength(sent.length);
    expect(rows.filter((r) => r.status === 'cancelled')).toHaveLength(40 - sent.length);
    // The campaign's run ends; nothing more is made.
    expect(await handle.result()).toEqual({ status: 'cancelled' });
    expect(await linksOf(campaign.stack.db, id)).toHaveLength(sent.length);
    // A finished campaign refuses to resume; a second cancel answers the same.
    expect((await campaign.stack.request('POST', `/v1/campaigns/${id}/resume`)).status).toBe(409);
    expect((await campaign.stack.request('POST', `/v1/campaigns/${id}/cancel`)).body.status).toBe(
      'cancelled',
    );
  });
});

describe('continue-as-new', () => {
  it('keeps every run of a long campaign short', async () => {
    const recipients = people(40);
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: { ...TEMPLATE, channels: [] },
      throttle: { links_per_second: 50 },
      recipients,
    });
    const continueAsNewAfterEvents = 40;
    const engine = createCampaignEngine({
      temporal: campaign.stack.temporal,
      campaigns: createCampaignStore(campaign.stack.db),
      taskQueue: campaign.stack.taskQueue,
      settings: { maxPageSize: 2, continueAsNewAfterEvents },
    });
    const account = { id: campaign.accountId, name: 'Test shop', timezone: TEST_ACCOUNT_ZONE };
    await engine.start(account, id);
    await untilCampaignStatus(campaign.stack.db, id, 'completed', 90_000);

    const runs = await eventually(
      async () => {
        const found = [];
        for await (const run of campaign.stack.temporal.workflow.list({ query: `WorkflowId = '${id}'` }))
          found.push(run);
        return found.some((r) => r.status.name === 'COMPLETED') ? found : undefined;
      },
      WAIT_MS,
      'the campaign runs to be listed',
    );
    expect(runs.filter((r) => r.status.name === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(3);
    for (const run of runs) {
      const history = await campaign.stack.temporal.workflow.getHandle(id, run.runId).fetchHistory();
      // The hand-over happens once the pages running past the limit (at most five) are done.
      expect(history.events?.length ?? 0).toBeLessThanOrEqual(continueAsNewAfterEvents + 50);
    }
    const links = await linksOf(campaign.stack.db, id);
    expect(links).toHaveLength(40);
    expect(new Set(links.map((l) => l.id)).size).toBe(40);
  });
});

describe('single link', () => {
  it('makes one multi-use link, runs until it expires, then completes', async () => {
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      mode: 'single_link',
      link: {
        amount: 5000,
        currency: 'EUR',
        description: 'Gala dinner',
        expires_in: 'PT6S',
        channels: ['email'],
      },
    });
    const started = await start(id);
    expect(started.status).toBe(200);
    const running = await eventually(
      async () => {
        const row = await campaignRow(campaign.stack.db, id);
        return row.single_link_id ? row : undefined;
      },
      WAIT_MS,
      'the single link',
    );
    expect(running.status).toBe('running');
    const link = await campaign.stack.db('payment_links').where({ id: running.single_link_id }).first();
    expect(link).toMatchObject({
      max_payments: null,
      campaign_id: id,
      channels: [],
      amount: 5000,
      status: 'active',
    });
    expect((await campaign.stack.request('POST', `/v1/campaigns/${id}/pause`)).status).toBe(409);
    await untilCampaignStatus(campaign.stack.db, id, 'completed');
  });

  it('cancelled with cancel_links, cancels its link', async () => {
    const id = await insertCampaign(campaign.stack.db, campaign.accountId, {
      mode: 'single_link',
      link: { amount: 5000, currency: 'EUR', expires_in: 'P1D' },
    });
    expect((await start(id)).status).toBe(200);
    const { single_link_id: linkId } = await eventually(
      async () => {
        const row = await campaignRow(campaign.stack.db, id);
        return row.single_link_id ? row : undefined;
      },
      WAIT_MS,
      'the single link',
    );
    const cancelled = await campaign.stack.request('POST', `/v1/campaigns/${id}/cancel`, {
      json: { cancel_links: true },
    });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', single_link_id: linkId });
    await eventually(
      async () =>
        (await campaign.stack.db('payment_links').where({ id: linkId }).first()).status === 'cancelled'
          ? true
          : undefined,
      WAIT_MS,
      'the single link to be cancelled',
    );
  });
});

describe('starting', () => {
  it('answers 404, 409 and 400 as the rules say', async () => {
    expect((await start('cmp_doesnotexist')).status).toBe(404);

    const empty = await insertCampaign(campaign.stack.db, campaign.accountId, { link: TEMPLATE });
    const noRecipients = await start(empty);
    expect(noRecipients.status).toBe(409);
    expect(noRecipients.body.error.code).toBe('campaign_has_no_recipients');

    const past = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      schedule: { start_at: new Date(Date.now() - 60_000).toISOString() },
      recipients: people(1),
    });
    const pastStart = await start(past);
    expect(pastStart.status).toBe(400);
    expect(pastStart.body.error).toMatchObject({ param: 'schedule.start_at', code: 'schedule_in_past' });

    const longAgo = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      schedule: { send_at_local: { date: '2020-01-01', time: '10:00' } },
      recipients: people(1, { timezone: 'Europe/Paris' }),
    });
    expect((await start(longAgo)).body.error).toMatchObject({ param: 'schedule.send_at_local' });
    expect((await campaignRow(campaign.stack.db, longAgo)).status).toBe('draft');

    const bad = await start(past, { now: true });
    expect(bad.status).toBe(400);

    const draft = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      schedule: { start_at: new Date(Date.now() + 3_600_000).toISOString() },
      recipients: people(2),
    });
    expect((await campaign.stack.request('POST', `/v1/campaigns/${draft}/pause`)).status).toBe(409);
    const later = await start(draft);
    expect(later.status).toBe(200);
    expect(later.body.status).toBe('scheduled');
    expect(later.body.started_at).not.toBeNull();
    const again = await start(draft);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('campaign_not_draft');
    expect(
      (
        await campaign.stack.request('POST', `/v1/campaigns/${draft}/cancel`, {
          json: { cancel_links: 'yes' },
        })
      ).body.error,
    ).toMatchObject({ param: 'cancel_links' });
    // Scheduled an hour out: paused and cancelled before anything was made.
    expect((await campaign.stack.request('POST', `/v1/campaigns/${draft}/pause`)).body.status).toBe('paused');
    expect((await campaign.stack.request('POST', `/v1/campaigns/${draft}/resume`)).body.status).toBe(
      'scheduled',
    );
    expect((await campaign.stack.request('POST', `/v1/campaigns/${draft}/cancel`)).body.status).toBe(
      'cancelled',
    );
    expect(await linksOf(campaign.stack.db, draft)).toHaveLength(0);

    // A draft nobody started is cancelled in place.
    const never = await insertCampaign(campaign.stack.db, campaign.accountId, {
      link: TEMPLATE,
      recipients: people(1),
    });
    expect((await campaign.stack.request('POST', `/v1/campaigns/${never}/cancel`)).body.status).toBe(
      'cancelled',
    );
    expect((await start(never)).status).toBe(409);
  });
});
