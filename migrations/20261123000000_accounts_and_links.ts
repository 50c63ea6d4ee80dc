import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('timezone').notNullable().defaultTo('UTC');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('key_hash').notNullable().unique();
    t.text('key_prefix').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });

  await knex.schema.createTable('payment_links', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('token').notNullable().unique();
    t.text('status').notNullable();
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.text('description');
    t.jsonb('line_items').notNullable().defaultTo('[]');
    t.text('reference');
    t.jsonb('customer');
    t.text('customer_id');
    t.text('timezone').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.integer('max_payments');
    t.boolean('accept_partial').notNullable().defaultTo(false);
    t.bigInteger('min_partial_amount');
    t.jsonb('channels').notNullable().defaultTo('[]');
    t.jsonb('reminders').notNullable();
    t.jsonb('quiet_hours');
    t.text('invoice_id');
    t.text('order_id');
    t.text('campaign_id');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.text('success_url');
    t.bigInteger('amount_paid').notNullable().defaultTo(0);
    t.integer('payments_count').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('closed_at', { useTz: true });
    t.unique(['account_id', 'reference']);
    t.index(['account_id', 'created_at']);
  });
  await knex.raw(
    `ALTER TABLE payment_links ADD CONSTRAINT payment_links_status_check
       CHECK (status IN ('active','partially_paid','paid','completed','expired','cancelled'))`,
  );
  await knex.raw('ALTER TABLE payment_links ADD CONSTRAINT payment_links_amount_check CHECK (amount > 0)');

  await knex.schema.createTable('link_events', (t) => {
    t.bigIncrements('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('link_id').notNullable().references('payment_links.id');
    t.text('type').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    // Chosen by the workflow, so a retried activity cannot write the same event twice.
    t.text('event_key').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['link_id', 'event_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('link_events');
  await knex.schema.dropTable('payment_links');
  await knex.schema.dropTable('api_keys');
  await knex.schema.dropTable('accounts');
}
