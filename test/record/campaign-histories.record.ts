/**
 * Records the campaign workflow's main paths from real runs, into
 * test/fixtures/campaign-histories/<n>-<name>/ (RECORD_CAMPAIGN_HISTORIES_DIR, `1-initial` by
 * default). Like the payment link's sets, a folder is recorded once and never re-recorded: a
 * versioned (patched) change to the campaign workflow records its set into the next folder, and
 * test/workflow/campaign-replay.test.ts replays them all.
 *
 * `npm run record:campaign-histories` (or, for a set recorded for another reason,
 * `RECORD_CAMPAIGN_HISTORIES_DIR=<n>-<name> npm run record:campaign-histories`).
 * Payloads are encrypted with the tests' fixed codec key, as the stack's worker does.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignEngine } from '../../src/campaigns/engine';
import { createCampaignStore } from '../../src/campaigns/store';
import { PROJECT_ROOT } from '../../src/paths';
import { campaignWorkflowId } from '../../workflows/campaign/contract';
import { insertCampaign, type TestRecipient, untilCampaignStatus, untilLinks } from '../helpers/campaigns';
import { type Stack, startStack } from '../helpers/stack';
import { eventually, WAIT_MS } from '../helpers/temporal';
import { exportHistory } from './export-history';

const DIR = join(
  PROJECT_ROOT,
  'test/fixtures/campaign-histories',
  process.env.RECORD_CAMPAIGN_HISTORIES_DIR ?? '1-initial',
);
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

let n = 0;
const people = (count: number, extra: Partial<TestRecipient> = {}): TestRecipient[] =>
  Array.from({ length: count }, () => {
    n += 1;
    return { name: `Person ${n}`, email: `person${n}@example.com`, reference: `ref-${n}`, ...extra };
  });

const TEMPLATE = {
  amount: 2500,
  currency: 'EUR',
  description: 'Hello {name}, {amount} for {reference}',
  channels: ['email' as const],
  expires_in: 'P7D',
  quiet_hours: null,
};

const api = (method: 'POST', path: string, json?: unknown) =>
  stack.request(method, path, json === undefined ? {} : { json });

interface ExportedEvent {
  eventType: string;
  workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string };
}

/**
 * Waits for the campaign's run to end and saves every run of its chain, oldest first: one file
 * when it never continued as new, `<name>-run-<k>.json` for each run otherwise.
 */
async function save(name: string, campaignId: string): Promise<string[]> {
  const workflowId = campaignWorkflowId(campaignId);
  const handle = stack.temporal.workflow.getHandle(workflowId);
  await handle.result();
  // Walk the chain back from the last run: each run's start names the one it continued.
  const chain: string[] = [];
  let runId: string | undefined = (await handle.describe()).runId;
  while (runId) {
    const json = await exportHistory(workflowId, runId);
    chain.unshift(json);
    const first = (JSON.parse(json) as { events: ExportedEvent[] }).events[0];
    runId = first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  const names = chain.length === 1 ? [`${name}.json`] : chain.map((_, i) => `${name}-run-${i + 1}.json`);
  // Recorded histories are what running campaigns did: they are kept, never overwritten (nor
  // added to: a chain of another length would sit beside the first).
  const recorded = existsSync(DIR)
    ? readdirSync(DIR).filter((f) => f === `${name}.json` || f.startsWith(`${name}-run-`))
    : [];
  if (recorded.length > 0)
    throw new Error(`${join(DIR, recorded[0] as string)} exists: record into a new folder`);
  mkdirSync(DIR, { recursive: true });
  names.forEach((file, i) => {
    writeFileSync(join(DIR, file), chain[i] as string);
  });
  return names;
}

/** Until the run waits on a timer (a scheduled campaign waiting for its send time). */
async function untilWaiting(campaignId: string): Promise<void> {
  const handle = stack.temporal.workflow.getHandle(campaignWorkflowId(campaignId));
  await eventually(
    async () => {
      const history = await handle.fetchHistory();
      return history.events?.some((e) => e.timerStartedEventAttributes) ? true : undefined;
    },
    WAIT_MS,
    `campaign ${campaignId} to wait for its send time`,
  );
}

describe.concurrent('record campaigns', () => {
  it('per recipient, completed over several runs (continue-as-new)', async () => {
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 20 },
      recipients: people(6),
    });
    // Pages of two and a low event limit force a hand-over between pages, as
    // campaign-runs.test.ts 'keeps every run of a long campaign short' does.
    const engine = createCampaignEngine({
      temporal: stack.temporal,
      campaigns: createCampaignStore(stack.db),
      taskQueue: stack.taskQueue,
      settings: { maxPageSize: 2, continueAsNewAfterEvents: 25 },
    });
    await engine.start({ id: stack.account.accountId, name: 'Test shop', timezone: 'UTC' }, id);
    await untilCampaignStatus(stack.db, id, 'completed', 90_000);
    const files = await save('per-recipient-completed', id);
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it('per recipient, paused, resumed, completed', async () => {
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 2 },
      recipients: people(6),
    });
    expect((await api('POST', `/v1/campaigns/${id}/start`)).status).toBe(200);
    await untilLinks(stack.db, id, 1);
    expect((await api('POST', `/v1/campaigns/${id}/pause`)).body.status).toBe('paused');
    expect((await api('POST', `/v1/campaigns/${id}/resume`)).body.status).toBe('running');
    await untilCampaignStatus(stack.db, id, 'completed', 90_000);
    await save('paused-resumed-completed', id);
  });

  it('per recipient, cancelled with its links', async () => {
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      link: TEMPLATE,
      throttle: { links_per_second: 2 },
      recipients: people(6),
    });
    expect((await api('POST', `/v1/campaigns/${id}/start`)).status).toBe(200);
    await untilLinks(stack.db, id, 2);
    const cancelled = await api('POST', `/v1/campaigns/${id}/cancel`, { cancel_links: true });
    expect(cancelled.body.status).toBe('cancelled');
    await save('cancelled-with-links', id);
  });

  it('single link, cancelled with its link', async () => {
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      mode: 'single_link',
      link: { amount: 5000, currency: 'EUR', expires_in: 'P1D' },
    });
    expect((await api('POST', `/v1/campaigns/${id}/start`)).status).toBe(200);
    await eventually(
      async () => {
        const row = await stack.db('campaigns').where({ id }).first();
        return row?.single_link_id ? row : undefined;
      },
      WAIT_MS,
      'the single link',
    );
    const cancelled = await api('POST', `/v1/campaigns/${id}/cancel`, { cancel_links: true });
    expect(cancelled.body.status).toBe('cancelled');
    await save('single-link-cancelled', id);
  });

  it('scheduled at a local time, cancelled while waiting', async () => {
    // Two days ahead: in the future in every recipient's zone.
    const date = DateTime.utc().plus({ days: 2 }).toISODate() as string;
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      link: TEMPLATE,
      schedule: { send_at_local: { date, time: '10:00' } },
      recipients: [
        ...people(2, { timezone: 'Europe/Paris' }),
        ...people(1, { timezone: 'America/New_York' }),
      ],
    });
    const started = await api('POST', `/v1/campaigns/${id}/start`);
    expect(started.body.status).toBe('scheduled');
    await untilWaiting(id);
    expect((await api('POST', `/v1/campaigns/${id}/cancel`)).body.status).toBe('cancelled');
    await save('send-at-local-cancelled-waiting', id);
  });

  it('scheduled to start later, cancelled while waiting', async () => {
    const id = await insertCampaign(stack.db, stack.account.accountId, {
      link: TEMPLATE,
      schedule: { start_at: new Date(Date.now() + 3_600_000).toISOString() },
      recipients: people(2),
    });
    const started = await api('POST', `/v1/campaigns/${id}/start`);
    expect(started.body.status).toBe('scheduled');
    await untilWaiting(id);
    expect((await api('POST', `/v1/campaigns/${id}/cancel`)).body.status).toBe('cancelled');
    await save('start-at-cancelled-waiting', id);
  });
});
