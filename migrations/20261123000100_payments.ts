import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payments', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('link_id').notNullable().references('payment_links.id');
    t.text('provider').notNullable();
    t.text('provider_payment_id').notNullable();
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.text('status').notNullable();
    t.jsonb('flags').notNullable().defaultTo('[]');
    t.boolean('refund_review').notNullable().defaultTo(false);
    t.text('session_id');
    t.text('payment_profile_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // A provider reports a payment once per id; a redelivery must not count twice.
    t.unique(['account_id', 'provider', 'provider_payment_id']);
    t.index(['link_id', 'created_at']);
  });
  await knex.raw(
    `ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('succeeded','rejected'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payments');
}
