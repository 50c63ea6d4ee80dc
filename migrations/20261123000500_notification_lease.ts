import type { Knex } from 'knex';

/**
 * A message being sent is claimed for a lease: a retry that overlaps a slow attempt finds the
 * claim and waits for it, instead of sending a second time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.timestamp('lease_until', { useTz: true });
  });
  await knex.raw('ALTER TABLE notifications DROP CONSTRAINT notifications_status_check');
  await knex.raw(
    `ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
       CHECK (status IN ('pending','sending','sent','delivered','undelivered','failed','suppressed'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE notifications DROP CONSTRAINT notifications_status_check');
  await knex.raw(
    `ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
       CHECK (status IN ('pending','sent','delivered','undelivered','failed','suppressed'))`,
  );
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('lease_until');
  });
}
