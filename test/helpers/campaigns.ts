/**
 * Campaigns written straight into Postgres, as the campaigns API stores them (the import API
 * lives elsewhere): a draft with its template, schedule and throttle, and numbered recipients.
 */
import { afterAll, beforeAll } from 'vitest';
import type { CampaignSchedule, LinkTemplate } from '../../src/campaigns/schema';
import type { Db } from '../../src/db/knex';
import { newId } from '../../src/ids';
import { type Stack, startStack } from './stack';
import { eventually, WAIT_MS } from './temporal';

export interface TestRecipient {
  name?: string;
  email?: string;
  phone?: string;
  locale?: string;
  timezone?: string;
  amount?: number;
  reference?: string;
  metadata?: Record<string, string>;
}

export async function insertCampaign(
  db: Db,
  accountId: string,
  options: {
    link: LinkTemplate;
    mode?: 'per_recipient' | 'single_link';
    schedule?: CampaignSchedule;
    throttle?: Record<string, number>;
    recipients?: TestRecipient[];
  },
): Promise<string> {
  const id = newId('cmp');
  const recipients = options.recipients ?? [];
  await db('campaigns').insert({
    id,
    account_id: accountId,
    name: `campaign ${id}`,
    mode: options.mode ?? 'per_recipient',
    link: JSON.stringify(options.link),
    schedule: options.schedule ? JSON.stringify(options.schedule) : null,
    throttle: JSON.stringify(options.throttle ?? {}),
    recipients_count: recipients.length,
  });
  if (recipients.length > 0) {
    await db('campaign_recipients').insert(
      recipients.map((r, i) => ({
        campaign_id: id,
        account_id: accountId,
        seq: i + 1,
        name: r.name ?? null,
        email: r.email ?? null,
        phone: r.phone ?? null,
        locale: r.locale ?? null,
        timezone: r.timezone ?? null,
        amount: r.amount ?? null,
        reference: r.reference ?? null,
        metadata: JSON.stringify(r.metadata ?? {}),
      })),
    );
  }
  return id;
}

export const campaignRow = (db: Db, id: string) => db('campaigns').where({ id }).first();

export const recipientsOf = (db: Db, campaignId: string) =>
  db('campaign_recipients').where({ campaign_id: campaignId }).orderBy('seq');

export const linksOf = (db: Db, campaignId: string) =>
  db('payment_links').where({ campaign_id: campaignId }).orderBy('created_at');

export function untilCampaignStatus(db: Db, id: string, status: string, timeoutMs = WAIT_MS) {
  return eventually(
    async () => {
      const row = await campaignRow(db, id);
      return row?.status === status ? row : undefined;
    },
    timeoutMs,
    `campaign ${id} to be ${status}`,
  );
}

export function untilLinks(db: Db, campaignId: string, count: number, timeoutMs = WAIT_MS) {
  return eventually(
    async () => {
      const links = await linksOf(db, campaignId);
      return links.length >= count ? links : undefined;
    },
    timeoutMs,
    `${count} link(s) of campaign ${campaignId}`,
  );
}

/**
 * The stack a campaign test file runs on, started before its tests and stopped after: read
 * `run.stack` and `run.accountId` inside the tests (they are set once `beforeAll` has run).
 */
export function campaignStack(): { readonly stack: Stack; readonly accountId: string } {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const started = (): Stack => {
    if (!stack) throw new Error('the campaign stack is used before beforeAll started it');
    return stack;
  };
  return {
    get stack() {
      return started();
    },
    get accountId() {
      return started().account.accountId;
    },
  };
}
