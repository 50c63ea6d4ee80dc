import type { Knex } from 'knex';

/**
 * A delivery attempt's `error` is a short class (`http_500`, `refused_address`, `timeout`…),
 * never text the receiver chose: Postgres refuses anything else, so a regression cannot store a
 * response body. Attempts recorded before held `HTTP 500` or an exception's message.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `UPDATE webhook_deliveries
        SET error = CASE WHEN error ~ '^HTTP [0-9]{3}$' THEN 'http_' || substr(error, 6) ELSE 'network_error' END
      WHERE error IS NOT NULL AND error !~ '^[a-z0-9_]{1,40}$'`,
  );
  await knex.raw(
    `ALTER TABLE webhook_deliveries
       ADD CONSTRAINT webhook_deliveries_error_class CHECK (error ~ '^[a-z0-9_]{1,40}$')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_error_class');
}
