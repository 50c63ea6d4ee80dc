import type { Knex } from 'knex';

const LIVE = `status IN ('open', 'processing')`;

/**
 * A single-use link has at most one live payment session (open, or being captured), whatever
 * tabs or requests race: Postgres enforces it. Multi-use links sell to many payers at once and
 * keep many. `voided` is a session replaced by a newer one; `processing` one whose checkout was
 * submitted and is being captured.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_sessions', (t) => {
    // A copy of the link's max_payments = 1 (fixed at creation): a partial index sees one table.
    t.boolean('single_use').notNullable().defaultTo(false);
  });
  await knex.raw(
    `UPDATE payment_sessions AS s SET single_use = true
       FROM payment_links AS l
      WHERE l.id = s.link_id AND l.account_id = s.account_id AND l.max_payments = 1`,
  );
  await knex.raw(`UPDATE payment_sessions SET status = 'expired' WHERE ${LIVE} AND expires_at <= now()`);
  // Sessions opened before this guard: the newest of each single-use link stays live.
  await knex.raw(
    `UPDATE payment_sessions SET status = 'voided', updated_at = now()
      WHERE single_use AND ${LIVE}
        AND id NOT IN (SELECT DISTINCT ON (link_id) id FROM payment_sessions
                        WHERE single_use AND ${LIVE}
                        ORDER BY link_id, created_at DESC, id DESC)`,
  );
  await knex.raw(
    `ALTER TABLE payment_sessions ADD CONSTRAINT payment_sessions_status_check
       CHECK (status IN ('open', 'processing', 'succeeded', 'failed', 'expired', 'voided'))`,
  );
  await knex.raw(
    `CREATE UNIQUE INDEX payment_sessions_one_live_per_single_use_link
        ON payment_sessions (link_id) WHERE single_use AND ${LIVE}`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX payment_sessions_one_live_per_single_use_link');
  await knex.raw('ALTER TABLE payment_sessions DROP CONSTRAINT payment_sessions_status_check');
  await knex.raw(`UPDATE payment_sessions SET status = 'expired' WHERE status IN ('voided', 'processing')`);
  await knex.schema.alterTable('payment_sessions', (t) => {
    t.dropColumn('single_use');
  });
}
