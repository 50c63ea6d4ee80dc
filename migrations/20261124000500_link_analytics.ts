import type { Knex } from 'knex';

/**
 * One row of figures per payment link, kept by triggers as the link's rows and timeline are
 * written, so the analytics API aggregates one narrow table through one covering index instead
 * of joining events, notifications and payments per request. Every figure is defined in
 * src/analytics/definitions.ts; the triggers below are the single place that maps timeline
 * entries to figures.
 */
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
  // Covering: an account's range is read by an index-only scan, never from the heap.
  await knex.raw(`
    CREATE INDEX link_analytics_account_created ON link_analytics (account_id, created_at)
      INCLUDE (currency, campaign_id, channels, first_sent_at, sent_channels, delivered_channels,
               first_viewed_at, sessions_started, payments_succeeded, payments_failed,
               amount_collected, closed_as, seconds_to_pay)`);

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

  // Links that exist already: the same figures, computed once from their timelines.
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
    GROUP BY l.id
    ON CONFLICT (link_id) DO NOTHING`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER link_analytics_on_event ON link_events');
  await knex.raw('DROP TRIGGER link_analytics_on_link ON payment_links');
  await knex.raw('DROP FUNCTION link_analytics_on_event()');
  await knex.raw('DROP FUNCTION link_analytics_on_link()');
  await knex.raw('DROP TABLE link_analytics');
}
