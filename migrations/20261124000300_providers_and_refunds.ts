import type { Knex } from 'knex';

/**
 * Each account's payment provider (the sandbox by default; Stripe with its keys, sealed with
 * SECRETS_KEY), the provider's own checkout of a session, and refunds: one row per refund, the
 * payment's total refunded never beyond what it paid.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payment_provider_settings', (t) => {
    t.text('account_id').primary().references('accounts.id');
    t.text('provider').notNullable();
    t.text('secret_key_encrypted');
    t.text('secret_key_prefix');
    t.text('webhook_secret_encrypted');
    t.text('webhook_secret_prefix');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `ALTER TABLE payment_provider_settings ADD CONSTRAINT payment_provider_settings_provider_check
       CHECK (provider = 'sandbox' OR (provider = 'stripe'
              AND secret_key_encrypted IS NOT NULL AND webhook_secret_encrypted IS NOT NULL))`,
  );

  await knex.schema.alterTable('payment_sessions', (t) => {
    // The provider's checkout of this session (a Stripe Checkout Session): Pay again resumes it.
    t.text('provider_session_id');
    t.text('checkout_url');
  });

  await knex.schema.alterTable('payments', (t) => {
    t.bigInteger('amount_refunded').notNullable().defaultTo(0);
  });
  await knex.raw(
    `ALTER TABLE payments ADD CONSTRAINT payments_amount_refunded_check
       CHECK (amount_refunded >= 0 AND amount_refunded <= amount)`,
  );

  await knex.schema.createTable('refunds', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('payment_id').notNullable().references('payments.id');
    t.text('link_id').notNullable().references('payment_links.id');
    t.text('provider').notNullable();
    t.text('provider_refund_id');
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.text('failure_reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'payment_id']);
    t.unique(['provider', 'provider_refund_id']);
  });
  await knex.raw(
    `ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))`,
  );
  await knex.raw('ALTER TABLE refunds ADD CONSTRAINT refunds_amount_check CHECK (amount > 0)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('refunds');
  await knex.raw('ALTER TABLE payments DROP CONSTRAINT payments_amount_refunded_check');
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('amount_refunded');
  });
  await knex.schema.alterTable('payment_sessions', (t) => {
    t.dropColumn('provider_session_id');
    t.dropColumn('checkout_url');
  });
  await knex.schema.dropTable('payment_provider_settings');
}
