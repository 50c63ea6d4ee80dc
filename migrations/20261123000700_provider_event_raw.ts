import type { Knex } from 'knex';

/** A provider's callback is kept byte for byte: jsonb refuses some valid JSON (\u0000). */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE provider_events ALTER COLUMN payload TYPE text USING payload::text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE provider_events ALTER COLUMN payload TYPE jsonb USING payload::jsonb');
}
