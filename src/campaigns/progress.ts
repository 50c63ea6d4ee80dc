/**
 * Where a campaign stands, read live from Postgres over that campaign's rows only, never the
 * account's other links (indexes: migrations/20261124001200):
 * - its links' figures from link_analytics_daily (kind 'campaign'): summed per day and currency
 *   by triggers in the same transaction as each timeline entry, so a few rows per day;
 * - the median time to pay from its paid links' times, in index order;
 * - its messages per channel from campaign_message_counts, kept by a trigger on notifications;
 * - its recipients from campaign_recipients.
 */
import type { Db } from '../db/knex';
import type { CampaignRow, RecipientStatus } from './types';

export interface ChannelFigures {
  sent: number;
  delivered: number;
  failed: number;
}

/** Where a campaign stands, as the API answers it (GET /v1/campaigns/:id `progress`). */
export interface CampaignProgress {
  recipients: number;
  recipients_by_status: Record<RecipientStatus, number>;
  links_created: number;
  /** Links with at least one message handed to a provider: the denominator of conversion_rate. */
  links_sent: number;
  messages_sent: number;
  messages_delivered: number;
  messages_failed: number;
  by_channel: Record<string, ChannelFigures>;
  links_viewed: number;
  links_paid: number;
  payments_succeeded: number;
  amount_collected: Record<string, number>;
  conversion_rate: number | null;
  median_time_to_pay_seconds: number | null;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

interface LinkFigures {
  currency: string;
  links_created: number;
  links_sent: number;
  links_viewed: number;
  links_paid: number;
  payments_succeeded: number;
  amount_collected: number;
}

/** The summed figures of a campaign's links (payment_links.campaign_id = the campaign's id), per currency. */
export const LINK_FIGURES_SQL = `
  SELECT currency,
         sum(links_created)::int AS links_created, sum(links_sent)::int AS links_sent,
         sum(links_viewed)::int AS links_viewed, sum(links_paid)::int AS links_paid,
         sum(payments_succeeded)::int AS payments_succeeded, sum(amount_collected)::bigint AS amount_collected
    FROM link_analytics_daily
   WHERE account_id = ? AND kind = 'campaign' AND value = ?
   GROUP BY currency`;

/** Seconds from first send to paid, the median over the campaign's paid links. */
export const MEDIAN_TIME_TO_PAY_SQL = `
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_pay) AS median
    FROM link_analytics
   WHERE account_id = ? AND campaign_id = ? AND seconds_to_pay IS NOT NULL`;

/**
 * The campaign's messages per channel: handed to the provider, delivered, failed (or
 * undelivered), kept by a trigger on notifications in shards (migrations/20261124001200).
 */
export const MESSAGE_FIGURES_SQL = `
  SELECT channel, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(failed)::int AS failed
    FROM campaign_message_counts
   WHERE account_id = ? AND campaign_id = ?
   GROUP BY channel
   ORDER BY channel`;

export async function campaignProgress(db: Db, campaign: CampaignRow): Promise<CampaignProgress> {
  const scope = [campaign.account_id, campaign.id];
  const [links, median, messages, recipients] = await Promise.all([
    db.raw<{ rows: LinkFigures[] }>(LINK_FIGURES_SQL, scope),
    db.raw<{ rows: { median: number | null }[] }>(MEDIAN_TIME_TO_PAY_SQL, scope),
    db.raw<{ rows: ({ channel: string } & ChannelFigures)[] }>(MESSAGE_FIGURES_SQL, scope),
    db('campaign_recipients')
      .where({ campaign_id: campaign.id, account_id: campaign.account_id })
      .groupBy('status')
      .select('status')
      .count<{ status: string; count: string }[]>('* as count'),
  ]);
  const sum = (key: Exclude<keyof LinkFigures, 'currency'>) => links.rows.reduce((n, row) => n + row[key], 0);
  const l = {
    links_created: sum('links_created'),
    links_sent: sum('links_sent'),
    links_viewed: sum('links_viewed'),
    links_paid: sum('links_paid'),
    payments_succeeded: sum('payments_succeeded'),
    median: median.rows[0]?.median ?? null,
  };
  const amounts = Object.fromEntries(
    links.rows.filter((row) => row.amount_collected > 0).map((row) => [row.currency, row.amount_collected]),
  );
  const byChannel: Record<string, ChannelFigures> = {};
  for (const { channel, sent, delivered, failed } of messages.rows)
    byChannel[channel] = { sent, delivered, failed };
  const total = (key: keyof ChannelFigures) => messages.rows.reduce((n, row) => n + row[key], 0);
  const byStatus: Record<RecipientStatus, number> = { pending: 0, created: 0, failed: 0, cancelled: 0 };
  for (const row of recipients) byStatus[row.status as RecipientStatus] = Number(row.count);
  return {
    recipients: campaign.recipients_count,
    recipients_by_status: byStatus,
    links_created: l.links_created,
    links_sent: l.links_sent,
    messages_sent: total('sent'),
    messages_delivered: total('delivered'),
    messages_failed: total('failed'),
    by_channel: byChannel,
    links_viewed: l.links_viewed,
    links_paid: l.links_paid,
    payments_succeeded: l.payments_succeeded,
    amount_collected: amounts,
    conversion_rate: l.links_sent > 0 ? round(l.links_paid / l.links_sent, 4) : null,
    median_time_to_pay_seconds: l.median === null ? null : round(Number(l.median), 3),
  };
}
