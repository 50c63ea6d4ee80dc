import type { Knex } from 'knex';

/**
 * A reissue first looks for the replacement an earlier reissue of the same link made
 * (`findReplacement` in src/links/link-store.ts): without an index, a scan of the account's links.
 * Not unique: before reissue was serialised, a link could be reissued twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX payment_links_replacement ON payment_links (account_id, reissued_from) WHERE reissued_from IS NOT NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX payment_links_replacement');
}
