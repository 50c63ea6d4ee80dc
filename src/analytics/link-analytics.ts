/**
 * Payment-link analytics for an account's links created in a range of UTC days, grouped by day,
 * week, channel, campaign or currency. Counts and amounts are sums of `link_analytics_daily`
 * (pre-summed per day as links change; see migrations/20261124000500_link_analytics.ts); times to
 * pay are percentiles over the paid links' own rows.
 *
 * Every link is counted in the group of its creation (a cohort): whatever happened to it later,
 * even after `to`, is counted with it, so rates such as paid ÷ created are about the same links.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { Db } from '../db/knex';

export const GROUP_BYS = ['day', 'week', 'channel', 'campaign', 'currency'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** The widest range one request may cover, in days. */
export const MAX_RANGE_DAYS = 366;

const day = z.iso.date({ error: 'must be an ISO 8601 date (YYYY-MM-DD), a day in UTC' });

/** The query string as sent (the OpenAPI document's parameters). */
export const AnalyticsParamsSchema = z.strictObject({
  from: day.describe('First UTC day of link creation, inclusive (YYYY-MM-DD)'),
  to: day.describe(
    `UTC day after the last one, exclusive (YYYY-MM-DD); at most ${MAX_RANGE_DAYS} days after from`,
  ),
  group_by: z.enum(GROUP_BYS).default('day').describe('One element per group'),
});

export const AnalyticsQuerySchema = AnalyticsParamsSchema.transform((q, ctx) => {
  const from = DateTime.fromISO(q.from, { zone: 'utc' });
  const to = DateTime.fromISO(q.to, { zone: 'utc' });
  if (from >= to) {
    ctx.addIssue({
      code: 'custom',
      path: ['to'],
      message: 'must be a later day than from (to is exclusive)',
    });
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
  return { from: q.from, to: q.to, groupBy: q.group_by };
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

const COUNTS = [
  'links_created',
  'links_sent',
  'links_delivered',
  'links_viewed',
  'sessions_started',
  'payments_succeeded',
  'payments_failed',
  'links_paid',
  'links_expired',
  'links_cancelled',
] as const;
type Counts = Record<(typeof COUNTS)[number], number>;

/**
 * Fixed SQL fragments chosen by an enum (no request text reaches a statement): which daily rows
 * to sum and their group key; and the group of a paid link's row (`a`, with `ch` its channel),
 * with how that group is shown as a key (formatted once per group, not once per link).
 */
const GROUPING: Record<
  GroupBy,
  {
    kind: string;
    dailyKey: string;
    linkGroup: string;
    linkKey?: (group: string) => string;
    perChannel?: true;
  }
> = {
  day: {
    kind: 'all',
    dailyKey: `to_char(d.day, 'YYYY-MM-DD')`,
    linkGroup: `(a.created_at AT TIME ZONE 'UTC')::date`,
    linkKey: (group) => `to_char(${group}, 'YYYY-MM-DD')`,
  },
  // ISO weeks: the key is the Monday that starts the week.
  week: {
    kind: 'all',
    dailyKey: `to_char(date_trunc('week', d.day), 'YYYY-MM-DD')`,
    linkGroup: `date_trunc('week', a.created_at AT TIME ZONE 'UTC')`,
    linkKey: (group) => `to_char(${group}, 'YYYY-MM-DD')`,
  },
  currency: { kind: 'all', dailyKey: 'd.currency', linkGroup: 'a.currency' },
  campaign: { kind: 'campaign', dailyKey: `nullif(d.value, '')`, linkGroup: 'a.campaign_id' },
  channel: { kind: 'channel', dailyKey: `nullif(d.value, '')`, linkGroup: 'ch', perChannel: true },
};

const ratio = (numerator: number, denominator: number) =>
  denominator === 0 ? null : numerator / denominator;
/** Seconds to the millisecond: the timestamps' precision as the API shows them. */
const seconds = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 1000);

export async function linkAnalytics(db: Db, accountId: string, q: AnalyticsQuery): Promise<LinkFigures[]> {
  const g = GROUPING[q.groupBy];
  // Counts from the daily sums, percentiles from the paid links' index: two connections at once.
  const [daily, times] = await Promise.all([
    db.raw<{
      rows: ({ key: string | null; currency: string; amount_collected: string } & Record<string, string>)[];
    }>(
      `SELECT ${g.dailyKey} AS key, d.currency,
              ${[...COUNTS, 'amount_collected'].map((c) => `sum(d.${c}) AS ${c}`).join(', ')}
         FROM link_analytics_daily d
        WHERE d.account_id = ? AND d.kind = ? AND d.day >= ? AND d.day < ?
        GROUP BY 1, 2`,
      [accountId, g.kind, q.from, q.to],
    ),
    // One sort per group serves both percentiles.
    db.raw<{ rows: { key: string | null; percentiles: [number, number] }[] }>(
      `SELECT ${g.linkKey ? g.linkKey(g.linkGroup) : g.linkGroup} AS key,
              percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY a.seconds_to_pay) AS percentiles
         FROM link_analytics a
         ${g.perChannel ? `CROSS JOIN LATERAL unnest(CASE WHEN cardinality(a.channels) = 0 THEN ARRAY[NULL::text] ELSE a.channels END) AS ch` : ''}
        WHERE a.account_id = ? AND a.created_at >= (?::date)::timestamp AT TIME ZONE 'UTC'
          AND a.created_at < (?::date)::timestamp AT TIME ZONE 'UTC' AND a.seconds_to_pay IS NOT NULL
        GROUP BY ${g.linkGroup}`,
      [accountId, q.from, q.to],
    ),
  ]);

  const groups = new Map<string | null, { counts: Counts; amounts: Record<string, number> }>();
  for (const row of daily.rows) {
    let group = groups.get(row.key);
    if (!group) {
      group = { counts: Object.fromEntries(COUNTS.map((c) => [c, 0])) as Counts, amounts: {} };
      groups.set(row.key, group);
    }
    for (const c of COUNTS) group.counts[c] += Number(row[c]);
    const amount = Number(row.amount_collected);
    if (amount !== 0) group.amounts[row.currency] = (group.amounts[row.currency] ?? 0) + amount;
  }
  const percentiles = new Map(times.rows.map((r) => [r.key, r]));
  const keys = [...groups.keys()].sort((a, b) =>
    a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0,
  );
  return keys.flatMap((key) => {
    const { counts: c, amounts } = groups.get(key) as { counts: Counts; amounts: Record<string, number> };
    // A day whose links were all removed would sum to zero: not a group.
    if (c.links_created === 0) return [];
    const t = percentiles.get(key);
    return [
      {
        key,
        ...c,
        completion_rate: ratio(c.links_paid, c.links_created),
        conversion_rate: ratio(c.links_paid, c.links_viewed),
        payment_success_rate: ratio(c.payments_succeeded, c.sessions_started),
        median_seconds_to_pay: seconds(t?.percentiles[0] ?? null),
        p90_seconds_to_pay: seconds(t?.percentiles[1] ?? null),
        amount_collected: amounts,
      },
    ];
  });
}
