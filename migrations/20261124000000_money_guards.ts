import type { Knex } from 'knex';

const OPEN = `status IN ('active', 'partially_paid')`;

/**
 * Postgres decides what must never happen twice: one open link per invoice and per order, and one
 * payment per provider payment id (whatever account or link a callback names).
 */
export async function up(knex: Knex): Promise<void> {
  // Links made before this guard may already share a document. They keep running (a paid document
  // closes them); only the newest of each group holds the document's slot.
  await knex.schema.alterTable('payment_links', (t) => {
    t.boolean('holds_document').notNullable().defaultTo(true);
  });
  for (const column of ['invoice_id', 'order_id']) {
    await knex.raw(
      `UPDATE payment_links SET holds_document = false
        WHERE ${OPEN} AND ?? IS NOT NULL
          AND id NOT IN (SELECT DISTINCT ON (account_id, ??) id FROM payment_links
                          WHERE ${OPEN} AND ?? IS NOT NULL
                          ORDER BY account_id, ??, created_at DESC, id DESC)`,
      [column, column, column, column],
    );
  }
  await knex.raw(
    `CREATE UNIQUE INDEX payment_links_one_open_per_invoice ON payment_links (account_id, invoice_id)
      WHERE invoice_id IS NOT NULL AND holds_document AND ${OPEN}`,
  );
  await knex.raw(
    `CREATE UNIQUE INDEX payment_links_one_open_per_order ON payment_links (account_id, order_id)
      WHERE order_id IS NOT NULL AND holds_document AND ${OPEN}`,
  );

  // A provider's payment id names one payment, whichever account or link a callback claims.
  await knex.schema.alterTable('payments', (t) => {
    t.unique(['provider', 'provider_payment_id'], { indexName: 'payments_provider_payment_unique' });
    t.dropUnique(['account_id', 'provider', 'provider_payment_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.unique(['account_id', 'provider', 'provider_payment_id']);
    t.dropUnique(['provider', 'provider_payment_id'], 'payments_provider_payment_unique');
  });
  await knex.raw('DROP INDEX payment_links_one_open_per_order');
  await knex.raw('DROP INDEX payment_links_one_open_per_invoice');
  await knex.schema.alterTable('payment_links', (t) => {
    t.dropColumn('holds_document');
  });
}
