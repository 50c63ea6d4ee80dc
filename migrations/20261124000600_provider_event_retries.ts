import type { Knex } from 'knex';

/**
 * A stored provider event the reconciler cannot apply (its payload unreadable, the account's
 * Stripe keys removed) is tried again later and later rather than at every pass: without this, a
 * few hundred such events would fill every pass and a newer, applicable one would never be
 * reached. The attempts and the last error stay on the row for an operator to read.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_events', (t) => {
    t.integer('reconcile_attempts').notNullable().defaultTo(0);
    t.text('reconcile_error');
    t.timestamp('reconcile_after', { useTz: true });
  });
  await knex.raw(
    `CREATE INDEX provider_events_unprocessed
       ON provider_events (reconcile_attempts, received_at) WHERE processed_at IS NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX provider_events_unprocessed');
  await knex.schema.alterTable('provider_events', (t) => {
    t.dropColumn('reconcile_attempts');
    t.dropColumn('reconcile_error');
    t.dropColumn('reconcile_after');
  });
}
