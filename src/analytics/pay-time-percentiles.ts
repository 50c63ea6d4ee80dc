/**
 * Median and p90 of the seconds to pay from the maintained histogram
 * (migrations/20261124000800_pay_time_histogram.ts): for long ranges, where sorting every paid
 * link would take time in proportion to them. The same rule as the exact path
 * (`percentile_cont`: linear interpolation between closest ranks), applied to the buckets'
 * representative values, so each percentile is within ±2.44 % of the exact one (or 1 ms, for
 * times under 1 ms).
 */
import { BUCKET_BASE_SECONDS, BUCKET_RATIO } from '../../migrations/20261124000800_pay_time_histogram';
import type { Db } from '../db/knex';

/** The documented bound: (ratio − 1) ÷ (ratio + 1), rounded up. */
export const APPROXIMATE_RELATIVE_ERROR = 0.025;

/** The value a bucket stands for: the point within ±(ratio − 1) ÷ (ratio + 1) of all its times. */
export function bucketValue(bucket: number): number {
  return bucket === 0 ? 0 : (BUCKET_BASE_SECONDS * BUCKET_RATIO ** bucket * 2) / (BUCKET_RATIO + 1);
}

/** `percentile_cont(p)` over a histogram: buckets ascending, counts of the same length. */
export function histogramPercentile(buckets: number[], counts: number[], p: number): number | null {
  const total = counts.reduce((n, c) => n + c, 0);
  if (total === 0) return null;
  const position = p * (total - 1);
  const lower = Math.floor(position);
  const valueAt = (rank: number) => {
    let seen = 0;
    for (const [i, count] of counts.entries()) {
      seen += count;
      if (seen > rank) return bucketValue(buckets[i] as number);
    }
    return bucketValue(buckets[buckets.length - 1] as number);
  };
  const low = valueAt(lower);
  return position === lower ? low : low + (position - lower) * (valueAt(lower + 1) - low);
}

/** Which histogram rows a grouping reads, and its key (fixed SQL chosen by an enum). */
export interface HistogramGrouping {
  kind: 'all' | 'currency' | 'campaign' | 'channel';
  /** The group of a row `h`. */
  group: string;
  /** The group `g` as a key, once per group (formatting each row's day instead took longer). */
  key?: (g: string) => string;
  /** Day and week keys need day rows; other groupings may read whole months. */
  byDay: boolean;
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * `[from, to)` as whole months plus the edge days around them (no months when the grouping
 * needs days or the range holds no whole month).
 */
export function periods(from: string, to: string, byDay: boolean) {
  const f = new Date(`${from}T00:00:00Z`);
  const t = new Date(`${to}T00:00:00Z`);
  const firstMonth = new Date(
    Date.UTC(f.getUTCFullYear(), f.getUTCMonth() + (f.getUTCDate() === 1 ? 0 : 1), 1),
  );
  const endMonth = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
  if (byDay || firstMonth >= endMonth) return { monthsFrom: to, monthsTo: to };
  return { monthsFrom: isoDay(firstMonth), monthsTo: isoDay(endMonth) };
}

export async function approximatePercentiles(
  db: Db,
  accountId: string,
  from: string,
  to: string,
  g: HistogramGrouping,
): Promise<Map<string | null, [number | null, number | null]>> {
  const { monthsFrom, monthsTo } = periods(from, to, g.byDay);
  const rows = (period: string) =>
    `SELECT day, value, bucket, links FROM link_pay_time_histogram
      WHERE account_id = ? AND kind = ? AND period = '${period}' AND day >= ? AND day < ?`;
  const result = await db.raw<{ rows: { key: string | null; buckets: number[]; counts: number[] }[] }>(
    `SELECT ${g.key ? g.key('s.grp') : 's.grp'} AS key,
            array_agg(s.bucket ORDER BY s.bucket) AS buckets, array_agg(s.n ORDER BY s.bucket) AS counts
       FROM (SELECT ${g.group} AS grp, h.bucket, sum(h.links)::int AS n
               FROM (${rows('day')} UNION ALL ${rows('month')} UNION ALL ${rows('day')}) AS h
              GROUP BY 1, 2 HAVING sum(h.links) > 0) AS s
      GROUP BY s.grp`,
    [
      ...[accountId, g.kind, from, monthsFrom],
      ...[accountId, g.kind, monthsFrom, monthsTo],
      ...[accountId, g.kind, monthsTo, to],
    ],
  );
  return new Map(
    result.rows.map((r) => [
      r.key,
      [histogramPercentile(r.buckets, r.counts, 0.5), histogramPercentile(r.buckets, r.counts, 0.9)],
    ]),
  );
}
