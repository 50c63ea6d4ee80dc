import type { Knex } from 'knex';

/**
 * The transactional outbox: what a link's transition announces (a merchant webhook, a closing
 * message to the customer) is written in the same transaction as the transition itself, and a
 * drainer in the worker delivers it. A retried write finds its rows by (link, dedupe key) and
 * enqueues nothing twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('account_id').notNullable().references('accounts.id');
    t.text('link_id').notNullable().references('payment_links.id');
    t.text('kind').notNullable();
    // Stable for one announcement of one link (a webhook's event id, a message's key).
    t.text('dedupe_key').notNullable();
    t.jsonb('payload').notNullable();
    // Claims so far; the current claim's number is the delivery attempt's.
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The drainer holding the row, until when: a drainer that dies lets it go when the lease ends.
    t.uuid('lease_token');
    t.timestamp('leased_until', { useTz: true });
    t.timestamp('last_attempt_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('given_up_at', { useTz: true });
    // delivered, no_endpoint, sent, suppressed… or why it was given up.
    t.text('outcome');
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['link_id', 'dedupe_key']);
    t.index(['account_id', 'link_id']);
  });
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('webhook','message'))`);
  // The drainer's scan: only rows still to deliver, by when they are due.
  await knex.raw(
    `CREATE INDEX outbox_due ON outbox (next_attempt_at)
       WHERE delivered_at IS NULL AND given_up_at IS NULL`,
  );
  // Delivered rows are pruned after a while (webhook_deliveries and notifications keep the record).
  await knex.raw(`CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
}
