import type { Knex } from 'knex';

const TERMINAL = `('paid', 'completed', 'expired', 'cancelled')`;

/**
 * A payment session is a reservation (src/payments/session-store.ts): a session holds part of its
 * link until its payment row is written, found by the payment's session id; the sessions that can
 * still hold are the few not yet settled. Closing a link closes its sessions; the checkouts a
 * provider hosts are expired there through the outbox (`checkout_expire`), and a payment that
 * arrives after the close may be refunded through it (`refund`, when the account's
 * `auto_refund_late_payments` is on). Open sessions of links closed before this are closed now,
 * their provider checkouts expired like a close's.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX payments_session ON payments (account_id, session_id) WHERE session_id IS NOT NULL',
  );
  await knex.raw(
    `CREATE INDEX payment_sessions_holding ON payment_sessions (link_id)
      WHERE status IN ('open', 'processing', 'succeeded')`,
  );
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check');
  await knex.raw(
    `ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
       CHECK (kind IN ('webhook', 'message', 'checkout_expire', 'refund'))`,
  );
  await knex.schema.alterTable('accounts', (t) => {
    t.boolean('auto_refund_late_payments').notNullable().defaultTo(false);
  });
  await knex.raw(
    `WITH closed AS (
       UPDATE payment_sessions AS s
          SET status = 'voided', failure_reason = 'link_' || l.status, updated_at = now()
         FROM payment_links AS l
        WHERE l.id = s.link_id AND l.account_id = s.account_id
          AND l.status IN ${TERMINAL} AND s.status = 'open'
       RETURNING s.id, s.account_id, s.link_id, s.provider, s.provider_session_id)
     INSERT INTO outbox (account_id, link_id, kind, dedupe_key, payload)
     SELECT account_id, link_id, 'checkout_expire', 'checkout_expire:' || id,
            jsonb_build_object('provider', provider, 'session_id', id, 'provider_session_id', provider_session_id)
       FROM closed WHERE provider_session_id IS NOT NULL
     ON CONFLICT (link_id, dedupe_key) DO NOTHING`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('auto_refund_late_payments');
  });
  await knex.raw(`DELETE FROM outbox WHERE kind IN ('checkout_expire', 'refund')`);
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check');
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('webhook','message'))`);
  await knex.raw('DROP INDEX payment_sessions_holding');
  await knex.raw('DROP INDEX payments_session');
}
