import type { Knex } from 'knex';

/**
 * Page views per link, counted without a row per view: the API counts views in memory and adds
 * them here about once a second, one upsert for all the links viewed meanwhile
 * (src/links/page-views.ts). The timeline keeps a single `link.viewed` entry per link, the first
 * view, which the analytics triggers read (`link_analytics.first_viewed_at`).
 *
 * Links viewed before this table existed had one timeline entry per view: their figures are
 * taken from those entries.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE link_views (
      link_id text PRIMARY KEY REFERENCES payment_links(id),
      account_id text NOT NULL REFERENCES accounts(id),
      views bigint NOT NULL CHECK (views > 0),
      first_viewed_at timestamptz NOT NULL,
      last_viewed_at timestamptz NOT NULL,
      CHECK (first_viewed_at <= last_viewed_at)
    )`);
  await knex.raw(`
    INSERT INTO link_views (link_id, account_id, views, first_viewed_at, last_viewed_at)
    SELECT link_id, account_id, count(*), min(created_at), max(created_at)
      FROM link_events WHERE type = 'link.viewed'
     GROUP BY link_id, account_id`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE link_views');
}
