import type { Knex } from 'knex';

/**
 * What the campaign API reads for one campaign of up to 100,000 recipients without scanning an
 * account's other links:
 * - a campaign's links (`payment_links.campaign_id`) and their figures (`link_analytics`), by
 *   account and campaign, so progress and results read only that campaign's rows;
 * - one recipient per reference in a campaign: the reference becomes the recipient's link's
 *   reference, which is unique per account, so a second recipient with it could never get a link.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX payment_links_campaign ON payment_links (account_id, campaign_id) WHERE campaign_id IS NOT NULL',
  );
  await knex.raw(
    'CREATE INDEX link_analytics_campaign ON link_analytics (account_id, campaign_id) WHERE campaign_id IS NOT NULL',
  );
  await knex.raw(
    'CREATE UNIQUE INDEX campaign_recipients_reference ON campaign_recipients (campaign_id, reference) WHERE reference IS NOT NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX campaign_recipients_reference');
  await knex.raw('DROP INDEX link_analytics_campaign');
  await knex.raw('DROP INDEX payment_links_campaign');
}
