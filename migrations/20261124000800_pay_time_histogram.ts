import type { Knex } from 'knex';

/**
 * A maintained histogram of the paid links' seconds to pay, so that the median and p90 of a long
 * range read a few thousand counts instead of sorting hundreds of thousands of links.
 *
 * Buckets are log-spaced with ratio 1.05 above 1 ms: bucket i ≥ 1 holds (0.001·1.05^(i−1),
 * 0.001·1.05^i] seconds and stands for 0.001·1.05^i·2/2.05, within (1.05−1)/(1.05+1) ≈ 2.44 %
 * of every time in it; bucket 0 holds times up to 1 ms (shown as 0). A year is bucket 496.
 *
 * Rows are per account, grouping kind and value, period ('day': a UTC day of creation; 'month':
 * the UTC month of creation, so that a long range reads whole months plus its edge days) and
 * bucket. The kinds are those of `link_analytics_daily` without its currency column, which would
 * only multiply the rows: 'all' (value ''), 'currency', 'campaign' ('' = none) and 'channel'
 * (each channel the link was created with, '' = none). Kept by a trigger on `link_analytics`
 * that subtracts a link's old bucket and adds its new one.
 */
export const BUCKET_RATIO = 1.05;
export const BUCKET_BASE_SECONDS = 0.001;

/** The cells of link row `r` (a table alias, NEW or OLD). */
const cells = (r: string) =>
  `link_pay_time_cells(${r}.account_id, ${r}.created_at, ${r}.currency, ${r}.campaign_id, ${r}.channels, ${r}.seconds_to_pay)`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE link_pay_time_histogram (
      account_id text NOT NULL REFERENCES accounts(id),
      kind text NOT NULL CHECK (kind IN ('all', 'currency', 'campaign', 'channel')),
      period text NOT NULL CHECK (period IN ('day', 'month')),
      day date NOT NULL,
      value text NOT NULL,
      bucket smallint NOT NULL CHECK (bucket >= 0),
      links integer NOT NULL,
      PRIMARY KEY (account_id, kind, period, day, value, bucket) INCLUDE (links)
    )`);
  await knex.raw(`
    CREATE FUNCTION link_pay_time_bucket(s double precision) RETURNS smallint
    LANGUAGE sql IMMUTABLE STRICT AS $$
      SELECT CASE WHEN s <= ${BUCKET_BASE_SECONDS} THEN 0
                  ELSE ceil(ln(s / ${BUCKET_BASE_SECONDS}) / ln(${BUCKET_RATIO}))::smallint END
    $$`);
  // The histogram rows one link counts in (none unless it has a time to pay). Scalar arguments,
  // not the row: PostgreSQL 15 fails to plan the backfill's GROUP BY over a whole-row argument.
  await knex.raw(`
    CREATE FUNCTION link_pay_time_cells(account_id text, created_at timestamptz, currency text,
                                        campaign_id text, channels text[], seconds_to_pay double precision)
    RETURNS TABLE (account_id text, kind text, period text, day date, value text, bucket smallint)
    LANGUAGE sql IMMUTABLE AS $$
      SELECT $1, g.kind, p.period, p.day, g.value, link_pay_time_bucket($6)
        FROM (SELECT 'all', ''
              UNION ALL SELECT 'currency', $3
              UNION ALL SELECT 'campaign', coalesce($4, '')
              UNION ALL SELECT DISTINCT 'channel', c
                          FROM unnest(CASE WHEN cardinality($5) = 0 THEN ARRAY[''] ELSE $5 END) c
             ) AS g(kind, value),
             (VALUES ('day', ($2 AT TIME ZONE 'UTC')::date),
                     ('month', date_trunc('month', $2 AT TIME ZONE 'UTC')::date)) AS p(period, day)
       WHERE $6 IS NOT NULL
    $$`);
  // Rows are changed in key order, so concurrent changes wait for each other instead of
  // deadlocking (link_analytics_rollup, which fires first, already serialises most of them).
  await knex.raw(`
    CREATE FUNCTION link_pay_time_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND (OLD.seconds_to_pay, OLD.account_id, OLD.created_at, OLD.currency,
                               OLD.campaign_id, OLD.channels)
            IS NOT DISTINCT FROM (NEW.seconds_to_pay, NEW.account_id, NEW.created_at, NEW.currency,
                                  NEW.campaign_id, NEW.channels) THEN
        RETURN NULL;
      END IF;
      INSERT INTO link_pay_time_histogram AS h (account_id, kind, period, day, value, bucket, links)
      SELECT c.account_id, c.kind, c.period, c.day, c.value, c.bucket, sum(c.delta)
        FROM (SELECT n.*, 1 AS delta FROM ${cells('NEW')} n
              UNION ALL
              SELECT o.*, -1 FROM ${cells('OLD')} o WHERE TG_OP = 'UPDATE') c
       GROUP BY 1, 2, 3, 4, 5, 6
      HAVING sum(c.delta) <> 0
       ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (account_id, kind, period, day, value, bucket) DO UPDATE SET links = h.links + EXCLUDED.links;
      RETURN NULL;
    END $$`);
  await backfillPayTimeHistogram(knex);
  await knex.raw(`
    CREATE TRIGGER link_pay_time_histogram AFTER INSERT OR UPDATE ON link_analytics
      FOR EACH ROW EXECUTE FUNCTION link_pay_time_on_change()`);
}

/** The histogram of the links there are, from scratch (also tools/bench/analytics.ts's fill). */
export async function backfillPayTimeHistogram(knex: Knex): Promise<void> {
  await knex.raw('TRUNCATE link_pay_time_histogram');
  await knex.raw(`
    INSERT INTO link_pay_time_histogram (account_id, kind, period, day, value, bucket, links)
    SELECT c.account_id, c.kind, c.period, c.day, c.value, c.bucket, count(*)
      FROM link_analytics r CROSS JOIN LATERAL ${cells('r')} c
     WHERE r.seconds_to_pay IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5, 6`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER link_pay_time_histogram ON link_analytics');
  await knex.raw('DROP FUNCTION link_pay_time_on_change()');
  await knex.raw(
    'DROP FUNCTION link_pay_time_cells(text, timestamptz, text, text, text[], double precision)',
  );
  await knex.raw('DROP FUNCTION link_pay_time_bucket(double precision)');
  await knex.raw('DROP TABLE link_pay_time_histogram');
}
