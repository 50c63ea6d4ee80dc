import type { Knex } from 'knex';

/** The id of what a keyed request creates, chosen before creating it, so a retry reuses it. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.text('resource_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropColumn('resource_id');
  });
}
