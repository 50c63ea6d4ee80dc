import type { Knex } from 'knex';

/**
 * Campaigns: many links (or one multi-use link) sent to many recipients on a schedule.
 *
 * - `campaigns`: the campaign as the merchant described it (the link template, the schedule and
 *   the throttle, kept as the API validated them) and where its run stands.
 * - `campaign_recipients`: one row per imported recipient, numbered in import order (`seq`, from
 *   1). The link a recipient gets has an id derived from (campaign, seq), so a crash or a retry
 *   never makes a second one; `send_at` is when that recipient's link goes out, computed once
 *   when the campaign starts (their own local time, outside their quiet hours).
 *   A recipient is known by their email and by their phone: importing the same one twice adds
 *   nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE campaigns (
      id text PRIMARY KEY,
      account_id text NOT NULL REFERENCES accounts(id),
      name text NOT NULL,
      status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
      mode text NOT NULL DEFAULT 'per_recipient' CHECK (mode IN ('per_recipient', 'single_link')),
      link jsonb NOT NULL,
      schedule jsonb,
      throttle jsonb NOT NULL DEFAULT '{}',
      single_link_id text,
      recipients_count integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      completed_at timestamptz,
      cancelled_at timestamptz
    )`);
  await knex.raw('CREATE INDEX campaigns_account ON campaigns (account_id, created_at DESC)');

  await knex.raw(`
    CREATE TABLE campaign_recipients (
      campaign_id text NOT NULL REFERENCES campaigns(id),
      account_id text NOT NULL REFERENCES accounts(id),
      seq integer NOT NULL CHECK (seq > 0),
      name text,
      email text,
      phone text,
      locale text,
      timezone text,
      amount bigint CHECK (amount > 0),
      reference text,
      metadata jsonb NOT NULL DEFAULT '{}',
      send_at timestamptz,
      link_id text,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'created', 'failed', 'cancelled')),
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (campaign_id, seq),
      CHECK (email IS NOT NULL OR phone IS NOT NULL)
    )`);
  await knex.raw(
    'CREATE UNIQUE INDEX campaign_recipients_email ON campaign_recipients (campaign_id, lower(email)) WHERE email IS NOT NULL',
  );
  await knex.raw(
    'CREATE UNIQUE INDEX campaign_recipients_phone ON campaign_recipients (campaign_id, phone) WHERE phone IS NOT NULL',
  );
  // The engine's next page: pending recipients due soonest.
  await knex.raw(
    `CREATE INDEX campaign_recipients_due ON campaign_recipients (campaign_id, send_at, seq) WHERE status = 'pending'`,
  );
  await knex.raw('CREATE INDEX campaign_recipients_link ON campaign_recipients (link_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE campaign_recipients');
  await knex.raw('DROP TABLE campaigns');
}
