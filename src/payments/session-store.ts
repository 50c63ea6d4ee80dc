/**
 * Payment sessions: one attempt to pay a link at a provider, and a reservation of what it pays.
 * What a customer may still pay counts what is recorded, what is captured but not yet recorded
 * (a `succeeded` session without its payment row) and what live sessions hold; Postgres decides
 * it, in one transaction that holds the link's row lock, so Pay pressed in two tabs, twice, or by
 * many payers at once is serialised on the link instead of racing:
 * - a single-use link has at most one live session (a partial unique index backs the rule) and
 *   never opens one past its balance: nothing while a capture is being confirmed, and on a link
 *   that takes part payments no more than what is left once captures are counted;
 * - a multi-use link never holds more sessions than it has uses left.
 * Closing a link closes its open sessions in the transaction of the close (close-sessions.ts), and
 * the sandbox's claim refuses a session of a closed link, under the same lock.
 */
import { EventTypes, isTerminal, type LinkStatus } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { newId } from '../ids';
import { insertLinkEvents, type LinkRow } from '../links/link-store';
import type { AmountChoice, PayableLink } from './pay-amount';

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
  /** Why it failed, or (voided) what replaced it or closed its link (`link_cancelled`…). */
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
  /** Single use: a checkout was submitted, or captured and not yet recorded; nothing is left to open. */
  | { kind: 'confirming' }
  /** The link closed (this is read under its lock, not from the row the route read before). */
  | { kind: 'closed'; status: LinkStatus }
  /** Part payments: the amount asked is more than is left once `confirming` (minor units) is counted. */
  | { kind: 'over_balance'; message: string; confirming: number }
  /** Multi-use: every use left is held by a live or captured session. */
  | { kind: 'no_uses_left' };

/** The link as Pay found it: its terms decide how its row is locked. */
export type LinkToPay = Pick<LinkRow, 'id' | 'account_id' | 'max_payments'>;

export const SESSION_LIFETIME_MS = 30 * 60 * 1000;
const LIVE: SessionStatus[] = ['open', 'processing'];
/** A session that still holds part of the link: live, or captured and its payment not recorded. */
const HOLDING: SessionStatus[] = [...LIVE, 'succeeded'];

/** Sessions of one link that hold part of it (their payment row not written yet). */
function holding(tx: Db, accountId: string, linkId: string) {
  return tx('payment_sessions as s')
    .where({ 's.account_id': accountId, 's.link_id': linkId })
    .whereIn('s.status', HOLDING)
    .whereNotExists(
      tx('payments as p').select(tx.raw('1')).whereRaw('p.account_id = s.account_id AND p.session_id = s.id'),
    )
    .select<SessionRow[]>('s.*');
}

export function createSessionStore(db: Db) {
  const insert = async (tx: Db, link: LinkRow, provider: string, amount: number): Promise<SessionRow> => {
    const [row] = await tx('payment_sessions')
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

  /** The single-use rules, under the link's lock. */
  async function openSingleUse(
    tx: Db,
    link: LinkRow,
    provider: string,
    choose: (payable: PayableLink) => AmountChoice,
  ): Promise<OpenedSession> {
    const held = await holding(tx, link.account_id, link.id);
    const live = held.find((s) => LIVE.includes(s.status));
    if (live?.status === 'processing') return { kind: 'confirming' };
    const confirming = held.filter((s) => s.status === 'succeeded').reduce((sum, s) => sum + s.amount, 0);
    const payable = { ...link, amount_paid: link.amount_paid + confirming };
    if (payable.amount_paid >= payable.amount) return { kind: 'confirming' };
    const choice = choose(payable);
    if (!choice.ok) return { kind: 'over_balance', message: choice.message, confirming };
    if (live && live.amount === choice.amount && live.provider === provider)
      return { kind: 'resumed', session: live };
    if (live) {
      // The customer's own open checkout for another amount: replaced, never two to capture.
      await tx('payment_sessions')
        .where({ id: live.id, status: 'open' })
        .update({ status: 'voided', failure_reason: 'replaced', updated_at: tx.fn.now() });
    }
    const session = await insert(tx, link, provider, choice.amount);
    return { kind: 'opened', session, ...(live ? { voided: live.id } : {}) };
  }

  /** The multi-use rules, under the link's lock: each session is one use at the full amount. */
  async function openMultiUse(
    tx: Db,
    link: LinkRow,
    provider: string,
    choose: (payable: PayableLink) => AmountChoice,
  ): Promise<OpenedSession> {
    if (link.max_payments !== null) {
      const held = await holding(tx, link.account_id, link.id);
      if (link.payments_count + held.length >= link.max_payments) return { kind: 'no_uses_left' };
    }
    const choice = choose(link);
    if (!choice.ok) return { kind: 'over_balance', message: choice.message, confirming: 0 };
    return { kind: 'opened', session: await insert(tx, link, provider, choice.amount) };
  }

  return {
    /**
     * The session a customer pays the link through, or why none can open now. `choose` picks the
     * amount from the link's figures under its lock (what the customer typed, within what is left).
     * The session's `session_started` timeline entry is written with it.
     */
    async openFor(
      link: LinkToPay,
      provider: string,
      choose: (payable: PayableLink) => AmountChoice,
    ): Promise<OpenedSession> {
      const opened = await db.transaction(async (tx): Promise<OpenedSession> => {
        const scope = { id: link.id, account_id: link.account_id };
        // An unlimited link counts nothing: a shared lock only keeps a close from passing it,
        // and its payers do not wait for one another.
        const unlimited = link.max_payments === null;
        const locked = tx('payment_links').where(scope);
        const row: LinkRow | undefined = await (unlimited ? locked.forShare() : locked.forUpdate()).first();
        if (!row) throw new Error(`payment link ${link.id} of account ${link.account_id} is not stored`);
        if (isTerminal(row.status)) return { kind: 'closed', status: row.status };
        if (!unlimited) {
          // A session past its expiry can no longer be paid: it frees what it held.
          await tx('payment_sessions')
            .where({ account_id: row.account_id, link_id: row.id })
            .whereIn('status', LIVE)
            .where('expires_at', '<=', tx.fn.now())
            .update({ status: 'expired', updated_at: tx.fn.now() });
        }
        const result =
          row.max_payments === 1
            ? await openSingleUse(tx, row, provider, choose)
            : await openMultiUse(tx, row, provider, choose);
        if (result.kind === 'opened') {
          const { session, voided } = result;
          await insertLinkEvents(tx, row.account_id, row.id, [
            {
              key: `session:${session.id}`,
              type: EventTypes.sessionStarted,
              data: {
                session_id: session.id,
                amount: session.amount,
                ...(voided ? { voided_session_id: voided } : {}),
              },
            },
          ]);
        }
        return result;
      });
      return opened;
    },

    /** Where the provider hosts this session's checkout: Pay again goes back to it. */
    async setCheckout(
      id: string,
      checkout: { url: string; providerSessionId?: string; expiresAt?: Date },
    ): Promise<void> {
      await db('payment_sessions')
        .where({ id })
        .update({
          checkout_url: checkout.url,
          provider_session_id: checkout.providerSessionId ?? null,
          // It holds its part of the link for as long as the provider takes payment through it.
          ...(checkout.expiresAt
            ? { expires_at: db.raw('greatest(expires_at, ?)', [checkout.expiresAt]) }
            : {}),
          updated_at: db.fn.now(),
        });
    },

    find(id: string): Promise<SessionRow | undefined> {
      return db('payment_sessions').where({ id }).first();
    },

    /**
     * Checkout submitted: open → processing, once, while its link is open (checked under the
     * link's lock, so a close cannot pass it). undefined when it is not open, expired, or its link
     * is closed.
     */
    async claim(id: string): Promise<SessionRow | undefined> {
      return db.transaction(async (tx) => {
        const found: SessionRow | undefined = await tx('payment_sessions').where({ id }).first();
        if (found?.status !== 'open') return undefined;
        const link = await tx('payment_links')
          .where({ id: found.link_id, account_id: found.account_id })
          .forShare()
          .first('status');
        if (!link || isTerminal(link.status)) return undefined;
        const [row] = await tx('payment_sessions')
          .where({ id, status: 'open' })
          .where('expires_at', '>', tx.fn.now())
          .update({ status: 'processing', updated_at: tx.fn.now() })
          .returning('*');
        return row;
      });
    },

    /** Its checkout could not be opened at the provider: it holds nothing any more. */
    async abandon(id: string): Promise<void> {
      await db('payment_sessions')
        .where({ id, status: 'open' })
        .whereNull('checkout_url')
        .update({ status: 'voided', failure_reason: 'checkout_failed', updated_at: db.fn.now() });
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
