import type { Knex } from 'knex';

/**
 * One attempt at a time applies a provider event: the attempt that stores it, or a later one that
 * claims it, holds a short lease. A provider's duplicate that arrives meanwhile is answered at once
 * (the event is stored, so it is durable: the holder or, if it dies, the reconciler applies it)
 * instead of repeating the work beside it; an attempt that fails gives the lease back, so the
 * provider's retry carries on at once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_events', (t) => {
    t.timestamp('applying_until', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_events', (t) => {
    t.dropColumn('applying_until');
  });
}
