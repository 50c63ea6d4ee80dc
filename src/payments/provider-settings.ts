/**
 * Which payment provider an account takes payments through: the sandbox (the development default
 * when no row exists) or Stripe with the account's own keys. The keys are sealed with SECRETS_KEY
 * like webhook secrets and never leave the store but to call Stripe; a prefix identifies them.
 */
import type { Db } from '../db/knex';
import { openSecret, sealSecret } from '../webhooks/secret-box';

export type ProviderChoice =
  | { provider: 'sandbox' }
  | { provider: 'stripe'; secretKey: string; webhookSecret: string };

/** What an account may read back about its provider: never a secret. */
export interface ProviderSettingsView {
  provider: 'sandbox' | 'stripe';
  secretKeyPrefix: string | null;
  webhookSecretPrefix: string | null;
  updatedAt: Date | null;
}

export interface StripeKeys {
  secretKey: string;
  webhookSecret: string;
}

/** `sk_test_51H…` → `sk_test_51H…`: enough to tell two keys apart, nothing to use. */
export function secretPrefix(secret: string): string {
  const kind = /^(?:sk|rk)_(?:test|live)_|^whsec_/.exec(secret)?.[0] ?? '';
  return `${secret.slice(0, kind.length + 4)}…`;
}

export function createProviderSettings(db: Db, key: Buffer) {
  return {
    async set(accountId: string, choice: ProviderChoice): Promise<ProviderSettingsView> {
      const row =
        choice.provider === 'stripe'
          ? {
              provider: 'stripe',
              secret_key_encrypted: sealSecret(key, choice.secretKey),
              secret_key_prefix: secretPrefix(choice.secretKey),
              webhook_secret_encrypted: sealSecret(key, choice.webhookSecret),
              webhook_secret_prefix: secretPrefix(choice.webhookSecret),
            }
          : {
              provider: 'sandbox',
              secret_key_encrypted: null,
              secret_key_prefix: null,
              webhook_secret_encrypted: null,
              webhook_secret_prefix: null,
            };
      const [saved] = await db('payment_provider_settings')
        .insert({ account_id: accountId, ...row })
        .onConflict('account_id')
        .merge({ ...row, updated_at: db.fn.now() })
        .returning('*');
      return view(saved);
    },

    async get(accountId: string): Promise<ProviderSettingsView> {
      const row = await db('payment_provider_settings').where({ account_id: accountId }).first();
      return row
        ? view(row)
        : { provider: 'sandbox', secretKeyPrefix: null, webhookSecretPrefix: null, updatedAt: null };
    },

    /** The account's Stripe keys; undefined when it does not take payments through Stripe. */
    async stripeKeys(accountId: string): Promise<StripeKeys | undefined> {
      const row = await db('payment_provider_settings')
        .where({ account_id: accountId, provider: 'stripe' })
        .first('secret_key_encrypted', 'webhook_secret_encrypted');
      if (!row) return undefined;
      return {
        secretKey: openSecret(key, row.secret_key_encrypted),
        webhookSecret: openSecret(key, row.webhook_secret_encrypted),
      };
    },
  };
}

const view = (row: {
  provider: 'sandbox' | 'stripe';
  secret_key_prefix: string | null;
  webhook_secret_prefix: string | null;
  updated_at: Date;
}): ProviderSettingsView => ({
  provider: row.provider,
  secretKeyPrefix: row.secret_key_prefix,
  webhookSecretPrefix: row.webhook_secret_prefix,
  updatedAt: row.updated_at,
});

export type ProviderSettings = ReturnType<typeof createProviderSettings>;
