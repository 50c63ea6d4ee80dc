import type { Knex } from 'knex';

/**
 * What the campaign API reads for one campaign of up to 100,000 recipients without scanning an
 * account's other links or days:
 * - a campaign's links (`payment_links.campaign_id`), for its messages and its payments;
 * - its summed figures (`link_analytics_daily`, kind 'campaign'), every day of one campaign;
 * - its paid links' times to pay in order, for the median (an index-only scan);
 * - one recipient per reference in a campaign: the reference becomes the recipient's link's
 *   reference, which is unique per account, so a second recipient with it could never get a link;
 * - `campaign_message_counts`: a campaign's messages per channel (handed to the provider,
 *   delivered, failed or undelivered), kept by a trigger on `notifications` that adds a message's
 *   change, in the same transaction. Counting them at read time meant visiting 200,000 message
 *   rows for a 100,000-recipient campaign on every progress request (over a second).
 */

/**
 * Every message of a campaign adds to its counts in the message's own transaction: one row per
 * campaign and channel queued every send behind the last (a 10,000-recipient campaign at 100
 * emails/s timed out hundreds of sends on that lock, docs/BENCHMARKS.md "Campaigns"). The counts
 * are split over shards by link (a link's later changes land on the same shard) and summed when read.
 */
export const MESSAGE_COUNT_SHARDS = 16;

/** A message row's contribution to its campaign's counts (`r`: NEW or OLD). */
const contribution = (r: string) =>
  [
    `(${r}.sent_at IS NOT NULL)::int`,
    `(${r}.status = 'delivered')::int`,
    `(${r}.status IN ('failed', 'undelivered'))::int`,
  ] as const;
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX payment_links_campaign ON payment_links (account_id, campaign_id) WHERE campaign_id IS NOT NULL',
  );
  await knex.raw(
    `CREATE INDEX link_analytics_daily_campaign ON link_analytics_daily (account_id, value) WHERE kind = 'campaign'`,
  );
  await knex.raw(
    `CREATE INDEX link_analytics_campaign_pay_time ON link_analytics (account_id, campaign_id, seconds_to_pay)
       WHERE campaign_id IS NOT NULL AND seconds_to_pay IS NOT NULL`,
  );
  await knex.raw(
    'CREATE UNIQUE INDEX campaign_recipients_reference ON campaign_recipients (campaign_id, reference) WHERE reference IS NOT NULL',
  );

  await knex.raw(`
    CREATE TABLE campaign_message_counts (
      account_id text NOT NULL REFERENCES accounts(id),
      campaign_id text NOT NULL,
      channel text NOT NULL,
      sent bigint NOT NULL DEFAULT 0,
      delivered bigint NOT NULL DEFAULT 0,
      failed bigint NOT NULL DEFAULT 0,
      shard smallint NOT NULL DEFAULT 0 CHECK (shard >= 0 AND shard < ${MESSAGE_COUNT_SHARDS}),
      PRIMARY KEY (account_id, campaign_id, channel, shard)
    )`);
  const [sentN, deliveredN, failedN] = contribution('NEW');
  const [sentO, deliveredO, failedO] = contribution('OLD');
  // Messages of links without a campaign (most of them) cost one primary-key look-up.
  await knex.raw(`
    CREATE FUNCTION campaign_message_counts_on_notification() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      d_sent int := 0;
      d_delivered int := 0;
      d_failed int := 0;
      r notifications;
      campaign text;
    BEGIN
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        d_sent := ${sentN}; d_delivered := ${deliveredN}; d_failed := ${failedN};
      END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        d_sent := d_sent - ${sentO}; d_delivered := d_delivered - ${deliveredO}; d_failed := d_failed - ${failedO};
      END IF;
      IF d_sent = 0 AND d_delivered = 0 AND d_failed = 0 THEN RETURN NULL; END IF;
      IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
      SELECT l.campaign_id INTO campaign FROM payment_links l WHERE l.id = r.link_id;
      IF campaign IS NULL THEN RETURN NULL; END IF;
      INSERT INTO campaign_message_counts AS c (account_id, campaign_id, channel, shard, sent, delivered, failed)
      VALUES (r.account_id, campaign, r.channel, abs(hashtext(r.link_id) % ${MESSAGE_COUNT_SHARDS}), d_sent, d_delivered, d_failed)
      ON CONFLICT (account_id, campaign_id, channel, shard) DO UPDATE SET
        sent = c.sent + EXCLUDED.sent, delivered = c.delivered + EXCLUDED.delivered, failed = c.failed + EXCLUDED.failed;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER campaign_message_counts_on_notification AFTER INSERT OR UPDATE OR DELETE ON notifications
      FOR EACH ROW EXECUTE FUNCTION campaign_message_counts_on_notification()`);
  await backfillCampaignMessageCounts(knex);
}

/** The counts of messages that exist already, set-wise (tools/bench/campaign-data.ts fills its own the same way). */
export async function backfillCampaignMessageCounts(knex: Knex): Promise<void> {
  const [sent, delivered, failed] = contribution('n');
  await knex.raw('TRUNCATE campaign_message_counts');
  await knex.raw(`
    INSERT INTO campaign_message_counts (account_id, campaign_id, channel, sent, delivered, failed)
    SELECT n.account_id, l.campaign_id, n.channel, sum(${sent}), sum(${delivered}), sum(${failed})
      FROM notifications n JOIN payment_links l ON l.id = n.link_id
     WHERE l.campaign_id IS NOT NULL
     GROUP BY 1, 2, 3`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER campaign_message_counts_on_notification ON notifications');
  await knex.raw('DROP FUNCTION campaign_message_counts_on_notification()');
  await knex.raw('DROP TABLE campaign_message_counts');
  await knex.raw('DROP INDEX campaign_recipients_reference');
  await knex.raw('DROP INDEX link_analytics_campaign_pay_time');
  await knex.raw('DROP INDEX link_analytics_daily_campaign');
  await knex.raw('DROP INDEX payment_links_campaign');
}
