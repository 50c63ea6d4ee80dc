import type { Db } from '../db/knex';
import { newId } from '../ids';

export interface SessionRow {
  id: string;
  account_id: string;
  link_id: string;
  provider: string;
  amount: number;
  currency: string;
  status: 'open' | 'succeeded' | 'failed' | 'expired';
  failure_reason: string | null;
  expires_at: Date;
  created_at: Date;
}

export const SESSION_LIFETIME_MS = 30 * 60 * 1000;

export function createSessionStore(db: Db) {
  return {
    async open(s: {
      accountId: string;
      linkId: string;
      provider: string;
      amount: number;
      currency: string;
    }): Promise<SessionRow> {
      const [row] = await db('payment_sessions')
        .insert({
          id: newId('ps'),
          account_id: s.accountId,
          link_id: s.linkId,
          provider: s.provider,
          amount: s.amount,
          currency: s.currency,
          expires_at: new Date(Date.now() + SESSION_LIFETIME_MS),
        })
        .returning('*');
      return row;
    },
    find(id: string): Promise<SessionRow | undefined> {
      return db('payment_sessions').where({ id }).first();
    },
    async settle(id: string, status: 'succeeded' | 'failed', failureReason?: string): Promise<void> {
      await db('payment_sessions')
        .where({ id, status: 'open' })
        .update({ status, failure_reason: failureReason ?? null, updated_at: db.fn.now() });
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
