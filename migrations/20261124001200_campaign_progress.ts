import type { Knex } from 'knex';

/**
 * What the campaign API reads for one campaign of up to 100,000 recipients without scanning an
 * account's other links or days:
 * - a campaign's links (`payment_links.campaign_id`), for its messages and its payments;
 * - its summed figures (`link_analytics_daily`, kind 'campaign'), every day of one campaign;
 * - its paid links' times to pay in order, for the median (an index-only scan);
 * - one recipient per reference in a campaign: the reference becomes the recipient's link's
 *   reference, which is unique per account, so a second recipient with it could never get a link.
 */
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
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX campaign_recipients_reference');
  await knex.raw('DROP INDEX link_analytics_campaign_pay_time');
  await knex.raw('DROP INDEX link_analytics_daily_campaign');
  await knex.raw('DROP INDEX payment_links_campaign');
}
