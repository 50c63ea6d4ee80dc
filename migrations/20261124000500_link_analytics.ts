import type { Knex } from 'knex';

/**
 * Analytics kept as links change, so that a request reads a few thousand pre-summed rows instead
 * of an account's million links.
 *
 * - `link_analytics`: one row of figures per link, kept by triggers on `payment_links` and
 *   `link_events` (the single place that maps timeline entries to figures).
 * - `link_analytics_daily`: the same figures summed per account, UTC day of creation and
 *   currency, three times over: for all links (`kind = 'all'`), per campaign (`'campaign'`,
 *   value '' = none) and per channel the link was created with (`'channel'`, value '' = none;
 *   sent and delivered then mean on that channel). Kept by a trigger on `link_analytics` that
 *   adds the difference between a link's new and old figures.
 * - Times to pay stay per link (a median cannot be summed): a partial index holds the paid links'
 *   seconds from first send to paid, so a percentile reads only those.
 */

/** Each summed figure: its column, and its value for one link row `r` on channel `ch` (NULL: any). */
const MEASURES: [column: string, value: (r: string, ch: string) => string][] = [
  ['links_created', () => '1'],
  [
    'links_sent',
    (r, ch) => `CASE WHEN ${ch} IS NULL THEN cardinality(${r}.sent_channels) > 0
                     ELSE ${ch} = ANY(${r}.sent_channels) END::int`,
  ],
  [
    'links_delivered',
    (r, ch) => `CASE WHEN ${ch} IS NULL THEN cardinality(${r}.delivered_channels) > 0
                     ELSE ${ch} = ANY(${r}.delivered_channels) END::int`,
  ],
  ['links_viewed', (r) => `(${r}.first_viewed_at IS NOT NULL)::int`],
  ['sessions_started', (r) => `${r}.sessions_started`],
  ['payments_succeeded', (r) => `${r}.payments_succeeded`],
  ['payments_failed', (r) => `${r}.payments_failed`],
  ['links_paid', (r) => `(${r}.closed_as IS NOT DISTINCT FROM 'paid')::int`],
  ['links_expired', (r) => `(${r}.closed_as IS NOT DISTINCT FROM 'expired')::int`],
  ['links_cancelled', (r) => `(${r}.closed_as IS NOT DISTINCT FROM 'cancelled')::int`],
  ['amount_collected', (r) => `${r}.amount_collected`],
];
const COLUMNS = MEASURES.map(([c]) => c);

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE link_analytics (
      link_id text PRIMARY KEY REFERENCES payment_links(id),
      account_id text NOT NULL REFERENCES accounts(id),
      created_at timestamptz NOT NULL,
      currency text NOT NULL,
      campaign_id text,
      channels text[] NOT NULL DEFAULT '{}',
      first_sent_at timestamptz,
      sent_channels text[] NOT NULL DEFAULT '{}',
      delivered_channels text[] NOT NULL DEFAULT '{}',
      first_viewed_at timestamptz,
      sessions_started integer NOT NULL DEFAULT 0,
      payments_succeeded integer NOT NULL DEFAULT 0,
      payments_failed integer NOT NULL DEFAULT 0,
      amount_collected bigint NOT NULL DEFAULT 0,
      paid_at timestamptz,
      closed_as text CHECK (closed_as IN ('paid', 'expired', 'cancelled')),
      seconds_to_pay double precision GENERATED ALWAYS AS (
        CASE WHEN paid_at IS NOT NULL AND first_sent_at IS NOT NULL AND paid_at >= first_sent_at
             THEN extract(epoch FROM paid_at - first_sent_at) END) STORED
    )`);
  await knex.raw(`
    CREATE INDEX link_analytics_time_to_pay ON link_analytics (account_id, created_at)
      INCLUDE (seconds_to_pay, currency, campaign_id, channels) WHERE seconds_to_pay IS NOT NULL`);

  await knex.raw(`
    CREATE TABLE link_analytics_daily (
      account_id text NOT NULL REFERENCES accounts(id),
      day date NOT NULL,
      kind text NOT NULL CHECK (kind IN ('all', 'campaign', 'channel')),
      value text NOT NULL,
      currency text NOT NULL,
      ${COLUMNS.map((c) => `${c} bigint NOT NULL DEFAULT 0`).join(',\n      ')},
      PRIMARY KEY (account_id, kind, day, value, currency)
    )`);

  await knex.raw(`
    CREATE FUNCTION link_analytics_on_link() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO link_analytics (link_id, account_id, created_at, currency, campaign_id, channels)
      VALUES (NEW.id, NEW.account_id, NEW.created_at, NEW.currency, NEW.campaign_id,
              ARRAY(SELECT jsonb_array_elements_text(NEW.channels)))
      ON CONFLICT (link_id) DO NOTHING;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER link_analytics_on_link AFTER INSERT ON payment_links
      FOR EACH ROW EXECUTE FUNCTION link_analytics_on_link()`);

  // link_events is append-only and deduplicated by (link_id, event_key) with ON CONFLICT DO
  // NOTHING, so this row trigger sees each timeline entry exactly once.
  await knex.raw(`
    CREATE FUNCTION link_analytics_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      channel text := NEW.data->>'channel';
    BEGIN
      CASE NEW.type
        WHEN 'payment_link.sent' THEN
          UPDATE link_analytics SET
            first_sent_at = LEAST(coalesce(first_sent_at, NEW.created_at), NEW.created_at),
            sent_channels = CASE WHEN channel IS NULL OR channel = ANY(sent_channels) THEN sent_channels
                                 ELSE sent_channels || channel END
          WHERE link_id = NEW.link_id;
        WHEN 'notification.delivered' THEN
          IF NEW.data->>'message_type' IN ('link', 'reminder') AND channel IS NOT NULL THEN
            UPDATE link_analytics SET delivered_channels = delivered_channels || channel
            WHERE link_id = NEW.link_id AND NOT (channel = ANY(delivered_channels));
          END IF;
        WHEN 'link.viewed' THEN
          UPDATE link_analytics SET first_viewed_at = NEW.created_at
          WHERE link_id = NEW.link_id AND first_viewed_at IS NULL;
        WHEN 'payment_session.started' THEN
          UPDATE link_analytics SET sessions_started = sessions_started + 1 WHERE link_id = NEW.link_id;
        WHEN 'payment_session.failed', 'payment.rejected' THEN
          UPDATE link_analytics SET payments_failed = payments_failed + 1 WHERE link_id = NEW.link_id;
        WHEN 'payment.succeeded', 'payment.flagged' THEN
          UPDATE link_analytics SET payments_succeeded = payments_succeeded + 1,
            amount_collected = amount_collected + coalesce((NEW.data->>'amount')::bigint, 0)
          WHERE link_id = NEW.link_id;
        WHEN 'payment_link.paid', 'payment_link.completed' THEN
          UPDATE link_analytics SET paid_at = coalesce(paid_at, NEW.created_at), closed_as = 'paid'
          WHERE link_id = NEW.link_id;
        WHEN 'payment_link.expired' THEN
          UPDATE link_analytics SET closed_as = 'expired' WHERE link_id = NEW.link_id AND closed_as IS NULL;
        WHEN 'payment_link.cancelled' THEN
          UPDATE link_analytics SET closed_as = 'cancelled' WHERE link_id = NEW.link_id AND closed_as IS NULL;
        ELSE NULL;
      END CASE;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER link_analytics_on_event AFTER INSERT ON link_events
      FOR EACH ROW EXECUTE FUNCTION link_analytics_on_event()`);

  // Adds one link's change (n minus o; o has a NULL link_id on insert) to one daily row. Rows
  // are always touched in the same order (all, campaign, channels sorted), so concurrent
  // changes to links of the same day wait for each other instead of deadlocking.
  const delta = (ch: string) =>
    MEASURES.map(
      ([, value]) => `(${value('n', ch)}) - CASE WHEN o.link_id IS NULL THEN 0 ELSE (${value('o', ch)}) END`,
    ).join(',\n        ');
  await knex.raw(`
    CREATE FUNCTION link_analytics_bump(k text, v text, ch text, n link_analytics, o link_analytics)
    RETURNS void LANGUAGE sql AS $$
      INSERT INTO link_analytics_daily AS d (account_id, day, kind, value, currency, ${COLUMNS.join(', ')})
      VALUES (n.account_id, (n.created_at AT TIME ZONE 'UTC')::date, k, v, n.currency,
        ${delta('ch')})
      ON CONFLICT (account_id, kind, day, value, currency) DO UPDATE SET
        ${COLUMNS.map((c) => `${c} = d.${c} + EXCLUDED.${c}`).join(',\n        ')}
    $$`);
  await knex.raw(`
    CREATE FUNCTION link_analytics_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      ch text;
    BEGIN
      IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN RETURN NULL; END IF;
      PERFORM link_analytics_bump('all', '', NULL, NEW, OLD);
      PERFORM link_analytics_bump('campaign', coalesce(NEW.campaign_id, ''), NULL, NEW, OLD);
      FOREACH ch IN ARRAY (SELECT coalesce(array_agg(DISTINCT c ORDER BY c), ARRAY['']) FROM unnest(NEW.channels) c)
      LOOP
        PERFORM link_analytics_bump('channel', ch, ch, NEW, OLD);
      END LOOP;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER link_analytics_rollup AFTER INSERT OR UPDATE ON link_analytics
      FOR EACH ROW EXECUTE FUNCTION link_analytics_rollup()`);

  await backfillLinkAnalytics(knex);
}

/**
 * Links that exist already: the same figures as the triggers keep, computed once from their
 * timelines and summed set-wise (tools/bench/analytics.ts fills its generated links the same way).
 */
export async function backfillLinkAnalytics(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE link_analytics DISABLE TRIGGER link_analytics_rollup');
  await knex.raw(`
    INSERT INTO link_analytics (link_id, account_id, created_at, currency, campaign_id, channels,
      first_sent_at, sent_channels, delivered_channels, first_viewed_at, sessions_started,
      payments_succeeded, payments_failed, amount_collected, paid_at, closed_as)
    SELECT l.id, l.account_id, l.created_at, l.currency, l.campaign_id,
      ARRAY(SELECT jsonb_array_elements_text(l.channels)),
      min(e.created_at) FILTER (WHERE e.type = 'payment_link.sent'),
      coalesce(array_agg(DISTINCT e.data->>'channel')
        FILTER (WHERE e.type = 'payment_link.sent' AND e.data->>'channel' IS NOT NULL), '{}'),
      coalesce(array_agg(DISTINCT e.data->>'channel')
        FILTER (WHERE e.type = 'notification.delivered' AND e.data->>'channel' IS NOT NULL
                  AND e.data->>'message_type' IN ('link', 'reminder')), '{}'),
      min(e.created_at) FILTER (WHERE e.type = 'link.viewed'),
      count(*) FILTER (WHERE e.type = 'payment_session.started'),
      count(*) FILTER (WHERE e.type IN ('payment.succeeded', 'payment.flagged')),
      count(*) FILTER (WHERE e.type IN ('payment_session.failed', 'payment.rejected')),
      coalesce(sum((e.data->>'amount')::bigint) FILTER (WHERE e.type IN ('payment.succeeded', 'payment.flagged')), 0),
      min(e.created_at) FILTER (WHERE e.type IN ('payment_link.paid', 'payment_link.completed')),
      CASE WHEN bool_or(e.type IN ('payment_link.paid', 'payment_link.completed')) THEN 'paid'
           WHEN bool_or(e.type = 'payment_link.expired') THEN 'expired'
           WHEN bool_or(e.type = 'payment_link.cancelled') THEN 'cancelled' END
    FROM payment_links l LEFT JOIN link_events e ON e.link_id = l.id
    WHERE NOT EXISTS (SELECT 1 FROM link_analytics a WHERE a.link_id = l.id)
    GROUP BY l.id`);
  await knex.raw('TRUNCATE link_analytics_daily');
  const sums = (ch: string) => MEASURES.map(([, value]) => `sum(${value('r', ch)})`).join(', ');
  const insert = `INSERT INTO link_analytics_daily (account_id, day, kind, value, currency, ${COLUMNS.join(', ')})`;
  const day = `(r.created_at AT TIME ZONE 'UTC')::date`;
  await knex.raw(`${insert}
    SELECT r.account_id, ${day}, 'all', '', r.currency, ${sums('NULL')}
      FROM link_analytics r GROUP BY 1, 2, 5`);
  await knex.raw(`${insert}
    SELECT r.account_id, ${day}, 'campaign', coalesce(r.campaign_id, ''), r.currency, ${sums('NULL')}
      FROM link_analytics r GROUP BY 1, 2, 4, 5`);
  await knex.raw(`${insert}
    SELECT r.account_id, ${day}, 'channel', c.ch, r.currency, ${sums('c.ch')}
      FROM link_analytics r
      CROSS JOIN LATERAL (SELECT DISTINCT x FROM unnest(CASE WHEN cardinality(r.channels) = 0
                                                     THEN ARRAY[''] ELSE r.channels END) x) AS c(ch)
     GROUP BY 1, 2, 4, 5`);
  await knex.raw('ALTER TABLE link_analytics ENABLE TRIGGER link_analytics_rollup');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER link_analytics_on_event ON link_events');
  await knex.raw('DROP TRIGGER link_analytics_on_link ON payment_links');
  await knex.raw('DROP TRIGGER link_analytics_rollup ON link_analytics');
  await knex.raw('DROP FUNCTION link_analytics_bump(text, text, text, link_analytics, link_analytics)');
  await knex.raw('DROP TABLE link_analytics_daily');
  await knex.raw('DROP TABLE link_analytics');
  await knex.raw('DROP FUNCTION link_analytics_on_event()');
  await knex.raw('DROP FUNCTION link_analytics_on_link()');
  await knex.raw('DROP FUNCTION link_analytics_rollup()');
}
