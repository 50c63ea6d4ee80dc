/**
 * Payment-link analytics: one aggregate over `link_analytics` (one row of figures per link,
 * kept by triggers; see migrations/20261124000500_link_analytics.ts) for an account's links
 * created in a range, grouped by day, week, channel, campaign or currency.
 *
 * Every link is counted in the group of its creation (a cohort): whatever happened to it later,
 * even after `to`, is counted with it, so rates such as paid ÷ created are about the same links.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { Db } from '../db/knex';

export const GROUP_BYS = ['day', 'week', 'channel', 'campaign', 'currency'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** The widest range one request may cover: keeps each answer to a bounded index range. */
export const MAX_RANGE_DAYS = 366;

const instant = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: 'must be an ISO 8601 date (2026-11-01) or date-time with offset (2026-11-01T00:00:00Z)',
});

export const AnalyticsQuerySchema = z
  .strictObject({
    from: instant,
    to: instant,
    group_by: z.enum(GROUP_BYS).default('day'),
  })
  .transform((q, ctx) => {
    // A bare date is that day's midnight in UTC.
    const from = DateTime.fromISO(q.from, { zone: 'utc' }).toUTC();
    const to = DateTime.fromISO(q.to, { zone: 'utc' }).toUTC();
    if (from >= to) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
      return z.NEVER;
    }
    if (to.diff(from, 'days').days > MAX_RANGE_DAYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `must be at most ${MAX_RANGE_DAYS} days after from`,
      });
      return z.NEVER;
    }
    return { from: from.toJSDate(), to: to.toJSDate(), groupBy: q.group_by };
  });
export type AnalyticsQuery = z.output<typeof AnalyticsQuerySchema>;

export interface LinkFigures {
  key: string | null;
  links_created: number;
  links_sent: number;
  links_delivered: number;
  links_viewed: number;
  sessions_started: number;
  payments_succeeded: number;
  payments_failed: number;
  links_paid: number;
  links_expired: number;
  links_cancelled: number;
  completion_rate: number | null;
  conversion_rate: number | null;
  payment_success_rate: number | null;
  median_seconds_to_pay: number | null;
  p90_seconds_to_pay: number | null;
  amount_collected: Record<string, number>;
}

/**
 * The group key of a row, and whether "sent"/"delivered" mean on that channel or on any.
 * Fixed SQL fragments chosen by an enum: no request text reaches the statement.
 */
const GROUPING: Record<GroupBy, { key: string; from: string; sent: string; delivered: string }> = {
  day: {
    key: `to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
    from: 'link_analytics a',
    sent: 'cardinality(a.sent_channels) > 0',
    delivered: 'cardinality(a.delivered_channels) > 0',
  },
  week: {
    // ISO weeks: the key is the Monday (UTC) that starts the week.
    key: `to_char(date_trunc('week', a.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
    from: 'link_analytics a',
    sent: 'cardinality(a.sent_channels) > 0',
    delivered: 'cardinality(a.delivered_channels) > 0',
  },
  currency: {
    key: 'a.currency',
    from: 'link_analytics a',
    sent: 'cardinality(a.sent_channels) > 0',
    delivered: 'cardinality(a.delivered_channels) > 0',
  },
  campaign: {
    key: 'a.campaign_id',
    from: 'link_analytics a',
    sent: 'cardinality(a.sent_channels) > 0',
    delivered: 'cardinality(a.delivered_channels) > 0',
  },
  channel: {
    // A link counts once under each channel it was created with (none: key null); sent and
    // delivered are then on that channel.
    key: 'ch.channel',
    from: `link_analytics a CROSS JOIN LATERAL unnest(CASE WHEN cardinality(a.channels) = 0
             THEN ARRAY[NULL::text] ELSE a.channels END) AS ch(channel)`,
    sent: 'coalesce(ch.channel = ANY(a.sent_channels), false)',
    delivered: 'coalesce(ch.channel = ANY(a.delivered_channels), false)',
  },
};

const ratio = (numerator: number, denominator: number) =>
  denominator === 0 ? null : numerator / denominator;
/** Seconds with millisecond precision: the timestamps' own precision as the API shows them. */
const seconds = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 1000);

interface CountsRow {
  key: string | null;
  links_created: string;
  links_sent: string;
  links_delivered: string;
  links_viewed: string;
  sessions_started: string;
  payments_succeeded: string;
  payments_failed: string;
  links_paid: string;
  links_expired: string;
  links_cancelled: string;
  median_seconds_to_pay: number | null;
  p90_seconds_to_pay: number | null;
}

export async function linkAnalytics(db: Db, accountId: string, q: AnalyticsQuery): Promise<LinkFigures[]> {
  const g = GROUPING[q.groupBy];
  const where = 'a.account_id = ? AND a.created_at >= ? AND a.created_at < ?';
  const bindings = [accountId, q.from, q.to];
  const order = q.groupBy === 'day' || q.groupBy === 'week' ? 'key' : 'key NULLS LAST';
  // Two index-only scans of the same range, on two pooled connections at once.
  const [counts, amounts] = await Promise.all([
    db.raw<{ rows: CountsRow[] }>(
      `SELECT ${g.key} AS key,
              count(*) AS links_created,
              count(*) FILTER (WHERE ${g.sent}) AS links_sent,
              count(*) FILTER (WHERE ${g.delivered}) AS links_delivered,
              count(*) FILTER (WHERE a.first_viewed_at IS NOT NULL) AS links_viewed,
              coalesce(sum(a.sessions_started), 0) AS sessions_started,
              coalesce(sum(a.payments_succeeded), 0) AS payments_succeeded,
              coalesce(sum(a.payments_failed), 0) AS payments_failed,
              count(*) FILTER (WHERE a.closed_as = 'paid') AS links_paid,
              count(*) FILTER (WHERE a.closed_as = 'expired') AS links_expired,
              count(*) FILTER (WHERE a.closed_as = 'cancelled') AS links_cancelled,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY a.seconds_to_pay) AS median_seconds_to_pay,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY a.seconds_to_pay) AS p90_seconds_to_pay
         FROM ${g.from}
        WHERE ${where}
        GROUP BY 1
        ORDER BY ${order}`,
      bindings,
    ),
    db.raw<{ rows: { key: string | null; currency: string; amount: string }[] }>(
      `SELECT ${g.key} AS key, a.currency, sum(a.amount_collected) AS amount
         FROM ${g.from}
        WHERE ${where} AND a.amount_collected > 0
        GROUP BY 1, 2`,
      bindings,
    ),
  ]);
  const collected = new Map<string | null, Record<string, number>>();
  for (const row of amounts.rows) {
    const byCurrency = collected.get(row.key) ?? {};
    byCurrency[row.currency] = Number(row.amount);
    collected.set(row.key, byCurrency);
  }
  return counts.rows.map((r) => {
    const n = (value: string) => Number(value);
    const created = n(r.links_created);
    const viewed = n(r.links_viewed);
    const paid = n(r.links_paid);
    const sessions = n(r.sessions_started);
    const succeeded = n(r.payments_succeeded);
    return {
      key: r.key,
      links_created: created,
      links_sent: n(r.links_sent),
      links_delivered: n(r.links_delivered),
      links_viewed: viewed,
      sessions_started: sessions,
      payments_succeeded: succeeded,
      payments_failed: n(r.payments_failed),
      links_paid: paid,
      links_expired: n(r.links_expired),
      links_cancelled: n(r.links_cancelled),
      completion_rate: ratio(paid, created),
      conversion_rate: ratio(paid, viewed),
      payment_success_rate: ratio(succeeded, sessions),
      median_seconds_to_pay: seconds(r.median_seconds_to_pay),
      p90_seconds_to_pay: seconds(r.p90_seconds_to_pay),
      amount_collected: collected.get(r.key) ?? {},
    };
  });
}
