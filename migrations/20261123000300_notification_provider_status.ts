import type { Knex } from 'knex';

/** The provider's own last word on a message (twilio: queued, sent, delivered, undelivered, failed). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.text('provider_status');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('provider_status');
  });
}
