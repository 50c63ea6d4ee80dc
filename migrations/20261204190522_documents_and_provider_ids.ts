import type { Knex } from 'knex';

/**
 * Issue 21, cases 6 and 9 (the refund part):
 *
 * - A provider's payment id and event id are unique per account, not across accounts. A merchant
 *   signs its own callbacks; one unique key for all accounts let a merchant who sent another's
 *   PaymentIntent id (or event id) first turn the victim's real event into a "duplicate".
 * - What each payment added to its link (`amount_collected`: its amount, or 0 for one set aside as
 *   late, already paid or of the wrong amount), so a refund reduces a document only by money that
 *   counted towards it.
 * - Invoices and orders keep what was refunded of what they collected (`amount_refunded`); orders
 *   also keep what they collected (`amount_paid`), as invoices do. Their status follows:
 *   open → partially_paid → paid, and partially_refunded / refunded once money went back.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.unique(['account_id', 'provider', 'provider_payment_id'], {
      indexName: 'payments_account_provider_payment_unique',
    });
    t.dropUnique(['provider', 'provider_payment_id'], 'payments_provider_payment_unique');
    t.bigInteger('amount_collected').notNullable().defaultTo(0);
  });
  // The rule of workflows/payment-link/payments.ts for the payments recorded so far: set aside
  // (late, already paid, a multi-use link's wrong amount) or rejected (wrong currency) added nothing.
  await knex.raw(
    `UPDATE payments SET amount_collected = amount
      WHERE status = 'succeeded' AND NOT (flags \\?| array['late', 'already_paid', 'amount_mismatch'])`,
  );
  await knex.raw(
    `ALTER TABLE payments ADD CONSTRAINT payments_amount_collected_check
       CHECK (amount_collected >= 0 AND amount_collected <= amount)`,
  );

  // Every stored event was stored with the account of its session.
  await knex.raw('ALTER TABLE provider_events ALTER COLUMN account_id SET NOT NULL');
  await knex.raw('ALTER TABLE provider_events DROP CONSTRAINT provider_events_pkey');
  await knex.raw('ALTER TABLE provider_events ADD PRIMARY KEY (provider, account_id, event_id)');

  await knex.schema.alterTable('invoices', (t) => {
    t.bigInteger('amount_refunded').notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('orders', (t) => {
    t.bigInteger('amount_paid').notNullable().defaultTo(0);
    t.bigInteger('amount_refunded').notNullable().defaultTo(0);
  });
  for (const [table, column, due] of [
    ['invoices', 'invoice_id', 'amount_due'],
    ['orders', 'order_id', 'amount'],
  ] as const) {
    await knex.raw(
      `WITH per_link AS (
         SELECT l.account_id, l.?? AS document_id, l.amount_paid AS paid,
                COALESCE((SELECT SUM(LEAST(p.amount_refunded, p.amount_collected)) FROM payments p
                           WHERE p.account_id = l.account_id AND p.link_id = l.id), 0) AS refunded
           FROM payment_links l
           JOIN ?? doc ON doc.account_id = l.account_id AND doc.id = l.?? AND doc.currency = l.currency
       ), s AS (
         SELECT account_id, document_id, SUM(paid) AS paid, SUM(refunded) AS refunded
           FROM per_link GROUP BY account_id, document_id
       )
       UPDATE ?? AS d
          SET amount_paid = s.paid,
              amount_refunded = s.refunded,
              status = CASE WHEN s.paid - s.refunded >= d.?? THEN 'paid'
                            WHEN s.refunded > 0 AND s.paid - s.refunded > 0 THEN 'partially_refunded'
                            WHEN s.refunded > 0 THEN 'refunded'
                            WHEN s.paid > 0 THEN 'partially_paid'
                            ELSE 'open' END
         FROM s
        WHERE d.account_id = s.account_id AND d.id = s.document_id`,
      [column, table, column, table, due],
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropColumn('amount_paid');
    t.dropColumn('amount_refunded');
  });
  await knex.schema.alterTable('invoices', (t) => {
    t.dropColumn('amount_refunded');
  });
  await knex.raw(
    `UPDATE invoices SET status = CASE WHEN amount_paid > 0 THEN 'partially_paid' ELSE 'open' END
      WHERE status IN ('partially_refunded', 'refunded')`,
  );
  await knex.raw(`UPDATE orders SET status = 'open' WHERE status NOT IN ('open', 'paid')`);
  await knex.raw('ALTER TABLE provider_events DROP CONSTRAINT provider_events_pkey');
  await knex.raw('ALTER TABLE provider_events ADD PRIMARY KEY (provider, event_id)');
  await knex.raw('ALTER TABLE provider_events ALTER COLUMN account_id DROP NOT NULL');
  await knex.raw('ALTER TABLE payments DROP CONSTRAINT payments_amount_collected_check');
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('amount_collected');
    t.unique(['provider', 'provider_payment_id'], { indexName: 'payments_provider_payment_unique' });
    t.dropUnique(
      ['account_id', 'provider', 'provider_payment_id'],
      'payments_account_provider_payment_unique',
    );
  });
}
