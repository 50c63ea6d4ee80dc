import type { Knex } from 'knex';

/**
 * An Idempotency-Key belongs to one endpoint (method and path): the same key sent to two
 * endpoints is two requests, never a replay of the other. A request in progress holds its key
 * for a lease, so a concurrent retry waits for its answer instead of running beside it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    // Every key stored so far was sent to the one endpoint that honoured it.
    t.text('scope').notNullable().defaultTo('POST /v1/payment_links');
    t.timestamp('locked_until', { useTz: true });
  });
  await knex.raw('ALTER TABLE idempotency_keys ALTER COLUMN scope DROP DEFAULT');
  await knex.raw('ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey');
  await knex.raw('ALTER TABLE idempotency_keys ADD PRIMARY KEY (account_id, scope, key)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey');
  await knex.raw(`DELETE FROM idempotency_keys WHERE scope <> 'POST /v1/payment_links'`);
  await knex.raw('ALTER TABLE idempotency_keys ADD PRIMARY KEY (account_id, key)');
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropColumn('locked_until');
    t.dropColumn('scope');
  });
}
