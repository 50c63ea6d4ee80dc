import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customers', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('name');
    t.text('email');
    t.text('phone');
    t.text('locale');
    t.text('timezone');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'created_at']);
  });

  await knex.schema.createTable('invoices', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('number').notNullable();
    t.text('customer_id').references('customers.id');
    t.bigInteger('amount_due').notNullable();
    t.bigInteger('amount_paid').notNullable().defaultTo(0);
    t.string('currency', 3).notNullable();
    t.date('due_date').notNullable();
    t.text('status').notNullable().defaultTo('open');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['account_id', 'number']);
    t.index(['account_id', 'created_at']);
  });

  await knex.schema.createTable('orders', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('customer_id').references('customers.id');
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.text('description');
    t.text('status').notNullable().defaultTo('open');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'created_at']);
  });

  await knex.schema.alterTable('payment_links', (t) => {
    t.text('reissued_from').references('payment_links.id');
    t.index(['account_id', 'status']);
  });

  await knex.schema.createTable('payment_sessions', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('link_id').notNullable().references('payment_links.id');
    t.text('provider').notNullable();
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.text('status').notNullable().defaultTo('open'); // open, succeeded, failed, expired
    t.text('failure_reason');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('payment_profiles', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('customer_id').notNullable().references('customers.id');
    t.text('provider').notNullable();
    t.text('provider_token').notNullable();
    t.text('brand');
    t.text('last4');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['account_id', 'provider', 'provider_token']);
  });

  // Every callback a provider sends, once: its id is the idempotency key of the provider's retries.
  await knex.schema.createTable('provider_events', (t) => {
    t.text('provider').notNullable();
    t.text('event_id').notNullable();
    t.text('account_id').references('accounts.id');
    t.text('type').notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('processed_at', { useTz: true });
    t.primary(['provider', 'event_id']);
  });

  await knex.schema.alterTable('accounts', (t) => {
    t.text('webhook_url');
    // AES-256-GCM under the server's key: it must be recoverable to sign, so it is not hashed.
    t.text('webhook_secret_encrypted');
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('event_id').notNullable();
    t.text('event_type').notNullable();
    t.text('link_id');
    t.text('url').notNullable();
    t.integer('attempt').notNullable();
    t.integer('response_status');
    t.text('error');
    t.integer('duration_ms');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'created_at']);
    t.unique(['event_id', 'attempt']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('account_id').notNullable().references('accounts.id');
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    t.integer('response_status');
    t.jsonb('response_body');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('webhook_url');
    t.dropColumn('webhook_secret_encrypted');
  });
  await knex.schema.dropTable('provider_events');
  await knex.schema.dropTable('payment_profiles');
  await knex.schema.dropTable('payment_sessions');
  await knex.schema.alterTable('payment_links', (t) => {
    t.dropColumn('reissued_from');
  });
  await knex.schema.dropTable('orders');
  await knex.schema.dropTable('invoices');
  await knex.schema.dropTable('customers');
}
