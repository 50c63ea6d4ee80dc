import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.text('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('link_id').notNullable().references('payment_links.id');
    // Chosen by the workflow: a retried activity finds its own row instead of sending again.
    t.text('message_key').notNullable();
    t.text('channel').notNullable();
    t.text('message_type').notNullable();
    t.text('recipient').notNullable();
    t.text('status').notNullable();
    t.text('provider_message_id');
    t.text('error_code');
    t.text('error_reason');
    t.integer('attempts').notNullable().defaultTo(0);
    // Unguessable handle for the one-click unsubscribe link of this message.
    t.text('unsubscribe_token').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.unique(['link_id', 'message_key']);
    t.index(['provider_message_id']);
  });
  await knex.raw(
    `ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
       CHECK (status IN ('pending','sent','delivered','undelivered','failed','suppressed'))`,
  );

  await knex.schema.alterTable('payment_links', (t) => {
    t.boolean('notify_on_expiry').notNullable().defaultTo(false);
  });

  // A customer's "stop" on one channel, keyed by the address it was sent to.
  await knex.schema.createTable('contact_opt_outs', (t) => {
    t.bigIncrements('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('channel').notNullable();
    t.text('address').notNullable();
    t.text('source').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['account_id', 'channel', 'address']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('contact_opt_outs');
  await knex.schema.dropTable('notifications');
  await knex.schema.alterTable('payment_links', (t) => {
    t.dropColumn('notify_on_expiry');
  });
}
