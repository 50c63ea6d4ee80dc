/**
 * Where a campaign stands, read live from Postgres in a few set-wise statements over that
 * campaign's rows only (indexes by account and campaign, migrations/20261124001200): its links'
 * figures from link_analytics (kept by triggers in the same transaction as each timeline entry),
 * its messages from notifications, its recipients from campaign_recipients.
 */
import type { Db } from '../db/knex';
import type { CampaignRow } from './store';

export interface ChannelFigures {
  sent: number;
  delivered: number;
  failed: number;
}

export interface CampaignProgress {
  recipients: number;
  recipients_by_status: Record<'pending' | 'created' | 'failed' | 'cancelled', number>;
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
  links_created: number;
  links_sent: number;
  links_viewed: number;
  links_paid: number;
  payments_succeeded: number;
  median: number | null;
  amounts: Record<string, number | string>;
}

/** The figures of a campaign's links (payment_links.campaign_id = the campaign's id). */
export const LINK_FIGURES_SQL = `
  WITH a AS MATERIALIZED (
    SELECT sent_channels, first_viewed_at, closed_as, payments_succeeded, seconds_to_pay, currency, amount_collected
      FROM link_analytics WHERE account_id = ? AND campaign_id = ?)
  SELECT f.*,
         (SELECT coalesce(jsonb_object_agg(currency, total), '{}')
            FROM (SELECT currency, sum(amount_collected) AS total FROM a GROUP BY currency
                  HAVING sum(amount_collected) > 0) c) AS amounts
    FROM (SELECT count(*)::int AS links_created,
                 count(*) FILTER (WHERE cardinality(sent_channels) > 0)::int AS links_sent,
                 count(*) FILTER (WHERE first_viewed_at IS NOT NULL)::int AS links_viewed,
                 count(*) FILTER (WHERE closed_as = 'paid')::int AS links_paid,
                 coalesce(sum(payments_succeeded), 0)::int AS payments_succeeded,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_pay) AS median
            FROM a) f`;

/** Every message of the campaign's links, per channel: handed to the provider, delivered, failed. */
export const MESSAGE_FIGURES_SQL = `
  SELECT n.channel,
         count(*) FILTER (WHERE n.sent_at IS NOT NULL)::int AS sent,
         count(*) FILTER (WHERE n.status = 'delivered')::int AS delivered,
         count(*) FILTER (WHERE n.status IN ('failed', 'undelivered'))::int AS failed
    FROM payment_links l JOIN notifications n ON n.link_id = l.id
   WHERE l.account_id = ? AND l.campaign_id = ?
   GROUP BY n.channel`;

export async function campaignProgress(db: Db, campaign: CampaignRow): Promise<CampaignProgress> {
  const scope = [campaign.account_id, campaign.id];
  const [links, messages, recipients] = await Promise.all([
    db.raw<{ rows: LinkFigures[] }>(LINK_FIGURES_SQL, scope),
    db.raw<{ rows: ({ channel: string } & ChannelFigures)[] }>(MESSAGE_FIGURES_SQL, scope),
    db('campaign_recipients')
      .where({ campaign_id: campaign.id, account_id: campaign.account_id })
      .groupBy('status')
      .select('status')
      .count<{ status: string; count: string }[]>('* as count'),
  ]);
  const l = links.rows[0] as LinkFigures;
  const byChannel: Record<string, ChannelFigures> = {};
  for (const { channel, sent, delivered, failed } of messages.rows)
    byChannel[channel] = { sent, delivered, failed };
  const total = (key: keyof ChannelFigures) => messages.rows.reduce((sum, row) => sum + row[key], 0);
  const byStatus = { pending: 0, created: 0, failed: 0, cancelled: 0 };
  for (const row of recipients) byStatus[row.status as keyof typeof byStatus] = Number(row.count);
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
    amount_collected: Object.fromEntries(Object.entries(l.amounts).map(([c, v]) => [c, Number(v)])),
    conversion_rate: l.links_sent > 0 ? round(l.links_paid / l.links_sent, 4) : null,
    median_time_to_pay_seconds: l.median === null ? null : round(Number(l.median), 3),
  };
}
