import { randomBytes } from 'node:crypto';
import type { Db } from '../db/knex';
import { newId } from '../ids';
import { openSecret, sealSecret } from './secret-box';

export interface WebhookEndpoint {
  url: string;
  secret: string;
}

export function createWebhookStore(db: Db, key: Buffer) {
  return {
    /** Sets the account's endpoint with a new secret, returned this once. */
    async setEndpoint(accountId: string, url: string): Promise<WebhookEndpoint> {
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      await db('accounts')
        .where({ id: accountId })
        .update({ webhook_url: url, webhook_secret_encrypted: sealSecret(key, secret) });
      return { url, secret };
    },
    async clearEndpoint(accountId: string): Promise<void> {
      await db('accounts')
        .where({ id: accountId })
        .update({ webhook_url: null, webhook_secret_encrypted: null });
    },
    async endpointUrl(accountId: string): Promise<string | null> {
      const row = await db('accounts').where({ id: accountId }).first('webhook_url');
      return row?.webhook_url ?? null;
    },
    async endpoint(accountId: string): Promise<WebhookEndpoint | undefined> {
      const row = await db('accounts')
        .where({ id: accountId })
        .first('webhook_url', 'webhook_secret_encrypted');
      if (!row?.webhook_url || !row.webhook_secret_encrypted) return undefined;
      return { url: row.webhook_url, secret: openSecret(key, row.webhook_secret_encrypted) };
    },
    async recordAttempt(a: {
      accountId: string;
      eventId: string;
      eventType: string;
      linkId: string | null;
      url: string;
      attempt: number;
      responseStatus: number | null;
      error: string | null;
      durationMs: number;
    }): Promise<void> {
      await db('webhook_deliveries')
        .insert({
          id: newId('whd'),
          account_id: a.accountId,
          event_id: a.eventId,
          event_type: a.eventType,
          link_id: a.linkId,
          url: a.url,
          attempt: a.attempt,
          response_status: a.responseStatus,
          error: a.error,
          duration_ms: a.durationMs,
        })
        .onConflict(['event_id', 'attempt'])
        .ignore();
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
