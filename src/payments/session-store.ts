/**
 * Payment sessions: one attempt to pay a link at a provider. A single-use link has at most one
 * live session (open, or processing once its checkout is submitted); Postgres enforces it with a
 * partial unique index, so pressing Pay in two tabs, or twice, never gives the provider two
 * sessions to capture for one link.
 */
import type { Db } from '../db/knex';
import { newId } from '../ids';

export type SessionStatus = 'open' | 'processing' | 'succeeded' | 'failed' | 'expired' | 'voided';

export interface SessionRow {
  id: string;
  account_id: string;
  link_id: string;
  provider: string;
  amount: number;
  currency: string;
  status: SessionStatus;
  /** The link takes one payer (max_payments 1): at most one live session. */
  single_use: boolean;
  failure_reason: string | null;
  /** The provider's checkout of this session, once opened there (Stripe). */
  provider_session_id: string | null;
  checkout_url: string | null;
  expires_at: Date;
  created_at: Date;
}

export type OpenedSession =
  /** A new session; `voided` is the one it replaced (another amount). */
  | { kind: 'opened'; session: SessionRow; voided?: string }
  /** The link's open session for the same amount: the customer goes back to it. */
  | { kind: 'resumed'; session: SessionRow }
  /** A checkout of this link was submitted and is being captured: nothing to open. */
  | { kind: 'processing'; session: SessionRow };

export interface LinkToPay {
  id: string;
  account_id: string;
  max_payments: number | null;
  currency: string;
}

export const SESSION_LIFETIME_MS = 30 * 60 * 1000;
const LIVE: SessionStatus[] = ['open', 'processing'];
const ONE_LIVE_INDEX = 'payment_sessions_one_live_per_single_use_link';
/** Each lost race means another request changed the live session; a handful always suffices. */
const MAX_RACES = 5;

const isOneLiveViolation = (err: unknown) =>
  (err as { code?: string; constraint?: string }).code === '23505' &&
  (err as { constraint?: string }).constraint === ONE_LIVE_INDEX;

export function createSessionStore(db: Db) {
  const insert = async (link: LinkToPay, provider: string, amount: number): Promise<SessionRow> => {
    const [row] = await db('payment_sessions')
      .insert({
        id: newId('ps'),
        account_id: link.account_id,
        link_id: link.id,
        provider,
        amount,
        currency: link.currency,
        single_use: link.max_payments === 1,
        expires_at: new Date(Date.now() + SESSION_LIFETIME_MS),
      })
      .returning('*');
    return row;
  };

  return {
    /**
     * The session a customer pays `amount` of the link through. On a single-use link: the live
     * session if it is for that amount, else that one voided and a new one opened.
     */
    async openFor(link: LinkToPay, provider: string, amount: number): Promise<OpenedSession> {
      if (link.max_payments !== 1) return { kind: 'opened', session: await insert(link, provider, amount) };
      let voided: string | undefined;
      for (let race = 0; race < MAX_RACES; race++) {
        const scope = { account_id: link.account_id, link_id: link.id, single_use: true };
        // A session past its expiry can no longer be paid: it frees the link's slot.
        await db('payment_sessions')
          .where(scope)
          .whereIn('status', LIVE)
          .where('expires_at', '<=', db.fn.now())
          .update({ status: 'expired', updated_at: db.fn.now() });
        const live: SessionRow | undefined = await db('payment_sessions')
          .where(scope)
          .whereIn('status', LIVE)
          .first();
        if (live?.status === 'processing') return { kind: 'processing', session: live };
        if (live && live.amount === amount && live.provider === provider)
          return { kind: 'resumed', session: live };
        if (live) {
          const done = await db('payment_sessions')
            .where({ id: live.id, status: 'open' })
            .update({ status: 'voided', updated_at: db.fn.now() });
          if (done === 0) continue; // claimed or replaced meanwhile: look again
          voided = live.id;
        }
        try {
          return {
            kind: 'opened',
            session: await insert(link, provider, amount),
            ...(voided ? { voided } : {}),
          };
        } catch (err) {
          if (!isOneLiveViolation(err)) throw err;
          // Another tab opened one first: the next look resumes it (or replaces it).
        }
      }
      throw new Error(`could not open a payment session for link ${link.id}: too much contention`);
    },

    /** Where the provider hosts this session's checkout: Pay again goes back to it. */
    async setCheckout(id: string, checkout: { url: string; providerSessionId?: string }): Promise<void> {
      await db('payment_sessions')
        .where({ id })
        .update({
          checkout_url: checkout.url,
          provider_session_id: checkout.providerSessionId ?? null,
          updated_at: db.fn.now(),
        });
    },

    find(id: string): Promise<SessionRow | undefined> {
      return db('payment_sessions').where({ id }).first();
    },

    /** Checkout submitted: open → processing, once. undefined when it is not open (or expired). */
    async claim(id: string): Promise<SessionRow | undefined> {
      const [row] = await db('payment_sessions')
        .where({ id, status: 'open' })
        .where('expires_at', '>', db.fn.now())
        .update({ status: 'processing', updated_at: db.fn.now() })
        .returning('*');
      return row;
    },

    /** The capture could not be confirmed: the customer may submit the checkout again. */
    async release(id: string): Promise<void> {
      await db('payment_sessions')
        .where({ id, status: 'processing' })
        .update({ status: 'open', updated_at: db.fn.now() });
    },

    async settle(id: string, status: 'succeeded' | 'failed', failureReason?: string): Promise<void> {
      await db('payment_sessions')
        .where({ id })
        .whereIn('status', LIVE)
        .update({ status, failure_reason: failureReason ?? null, updated_at: db.fn.now() });
    },

    /**
     * A payment through this session comes from a checkout the link no longer stands behind: the
     * session was replaced, or the link has another live session.
     */
    async isStale(session: SessionRow): Promise<boolean> {
      if (!session.single_use) return false;
      if (session.status === 'voided') return true;
      const other = await db('payment_sessions')
        .where({ account_id: session.account_id, link_id: session.link_id, single_use: true })
        .whereIn('status', LIVE)
        .whereNot({ id: session.id })
        .first('id');
      return other !== undefined;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
