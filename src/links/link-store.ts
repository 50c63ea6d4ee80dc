/**
 * Postgres read model of payment links. The workflow writes through activities (insertLink,
 * applyChange); the API only reads. Every query is scoped to an account.
 */
import {
  type EventType,
  isTerminal,
  type LinkStatus,
  type LinkTerms,
  type PersistOutcome,
  type QuietHours,
  type ReminderPolicy,
} from '../../workflows/payment-link/contract';
import type { OutboxItem } from '../../workflows/payment-link/outbox-items';
import { settleDocuments } from '../commerce/settlement';
import type { Db } from '../db/knex';
import { enqueueOutbox } from '../outbox/outbox-store';
import { closeLinkSessions } from '../payments/close-sessions';

export interface LinkEventInput {
  /** Unique per link; makes a retried write a no-op. */
  key: string;
  type: EventType;
  data?: Record<string, unknown>;
}

export interface PaymentRecord {
  id: string;
  provider: string;
  providerPaymentId: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'rejected';
  flags: string[];
  refundReview: boolean;
  sessionId: string | null;
  paymentProfileId: string | null;
}

/**
 * What a payment recorded by a run from before `recordPayments` added to its link, read from its
 * flags: one set aside (late, already paid, a multi-use link's wrong amount) or rejected, nothing.
 */
const collectedBy = (p: PaymentRecord): number =>
  p.status === 'succeeded' && !p.flags.some((f) => ['late', 'already_paid', 'amount_mismatch'].includes(f))
    ? p.amount
    : 0;

export interface LinkPatch {
  status?: LinkStatus;
  amountPaid?: number;
  paymentsCount?: number;
  description?: string | null;
  metadata?: Record<string, string>;
  reminders?: ReminderPolicy;
  quietHours?: QuietHours | null;
  expiresAt?: string;
  closedAt?: string;
}

export interface LinkChange {
  linkId: string;
  accountId: string;
  patch?: LinkPatch;
  events: LinkEventInput[];
  payment?: PaymentRecord;
  /** What the transition announces (webhooks, a closing message): enqueued with it, once. */
  outbox?: OutboxItem[];
}

export interface LinkRow {
  id: string;
  account_id: string;
  token: string;
  status: LinkStatus;
  amount: number;
  currency: string;
  description: string | null;
  line_items: { name: string; quantity: number; unitAmount: number }[];
  reference: string | null;
  customer: Record<string, string> | null;
  customer_id: string | null;
  timezone: string;
  expires_at: Date;
  max_payments: number | null;
  accept_partial: boolean;
  min_partial_amount: number | null;
  channels: string[];
  reminders: ReminderPolicy;
  quiet_hours: QuietHours | null;
  invoice_id: string | null;
  order_id: string | null;
  campaign_id: string | null;
  metadata: Record<string, string>;
  success_url: string | null;
  notify_on_expiry: boolean;
  reissued_from: string | null;
  amount_paid: number;
  payments_count: number;
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
}

export interface LinkEventRow {
  id: number;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
}

export interface PaymentRow {
  id: string;
  link_id: string;
  provider: string;
  provider_payment_id: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'rejected';
  flags: string[];
  refund_review: boolean;
  amount_refunded: number;
  created_at: Date;
}

const UNIQUE_VIOLATION = '23505';
/** The partial unique indexes that keep one open link per invoice and per order. */
const DOCUMENT_SLOTS: Record<string, 'invoiceId' | 'orderId'> = {
  payment_links_one_open_per_invoice: 'invoiceId',
  payment_links_one_open_per_order: 'orderId',
};
const json = (value: unknown) => JSON.stringify(value);

export function patchColumns(patch: LinkPatch): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  if (patch.status !== undefined) columns.status = patch.status;
  if (patch.amountPaid !== undefined) columns.amount_paid = patch.amountPaid;
  if (patch.paymentsCount !== undefined) columns.payments_count = patch.paymentsCount;
  if (patch.description !== undefined) columns.description = patch.description;
  if (patch.metadata !== undefined) columns.metadata = json(patch.metadata);
  if (patch.reminders !== undefined) columns.reminders = json(patch.reminders);
  if (patch.quietHours !== undefined) columns.quiet_hours = json(patch.quietHours);
  if (patch.expiresAt !== undefined) columns.expires_at = patch.expiresAt;
  if (patch.closedAt !== undefined) columns.closed_at = patch.closedAt;
  return columns;
}

/**
 * The write of a link's figures and status, for every writer (a transition, recorded payments),
 * in the caller's transaction. A close closes the link's sessions with it: no checkout of a
 * closed link can be paid through the sandbox, and the provider's are expired through the outbox.
 */
export async function writeLinkPatch(
  tx: Db,
  accountId: string,
  linkId: string,
  patch: LinkPatch,
): Promise<void> {
  const columns = patchColumns(patch);
  if (Object.keys(columns).length === 0) return;
  await tx('payment_links')
    .where({ id: linkId, account_id: accountId })
    .update({ ...columns, updated_at: tx.fn.now() });
  if (patch.status !== undefined && isTerminal(patch.status))
    await closeLinkSessions(tx, accountId, linkId, patch.status);
}

export function createLinkStore(db: Db) {
  /** An open link already collecting for this invoice or order, if any. */
  async function openLinkFor(
    accountId: string,
    document: { invoiceId?: string; orderId?: string },
  ): Promise<string | undefined> {
    const row = await db('payment_links')
      .where({
        account_id: accountId,
        ...(document.invoiceId ? { invoice_id: document.invoiceId } : { order_id: document.orderId }),
      })
      .whereIn('status', ['active', 'partially_paid'])
      .orderBy('holds_document', 'desc')
      .first('id');
    return row?.id;
  }

  return {
    /**
     * Inserts the link and its `created` event. A retry after success finds the row and is a
     * no-op; a reference or a document another link already holds is reported, not thrown.
     */
    async insertLink(terms: LinkTerms, createdEvent: LinkEventInput): Promise<PersistOutcome> {
      try {
        await db.transaction(async (tx) => {
          const inserted = await tx('payment_links')
            .insert({
              id: terms.id,
              account_id: terms.accountId,
              token: terms.token,
              status: 'active',
              amount: terms.amount,
              currency: terms.currency,
              description: terms.description,
              line_items: json(terms.lineItems),
              reference: terms.reference,
              customer: terms.customer === null ? null : json(terms.customer),
              customer_id: terms.customerId,
              timezone: terms.timezone,
              expires_at: terms.expiresAt,
              max_payments: terms.maxPayments,
              accept_partial: terms.acceptPartial,
              min_partial_amount: terms.minPartialAmount,
              channels: json(terms.channels),
              reminders: json(terms.reminders),
              quiet_hours: terms.quietHours === null ? null : json(terms.quietHours),
              invoice_id: terms.invoiceId,
              order_id: terms.orderId,
              campaign_id: terms.campaignId,
              metadata: json(terms.metadata),
              success_url: terms.successUrl,
              notify_on_expiry: terms.notifyOnExpiry,
              reissued_from: terms.reissuedFrom ?? null,
              created_at: terms.createdAt,
            })
            .onConflict('id')
            .ignore()
            .returning('id');
          if (inserted.length > 0) await insertLinkEvents(tx, terms.accountId, terms.id, [createdEvent]);
        });
        return { outcome: 'created' };
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code !== UNIQUE_VIOLATION) throw err;
        if (e.constraint?.includes('reference')) return { outcome: 'duplicate_reference' };
        const document = DOCUMENT_SLOTS[e.constraint ?? ''];
        if (!document) throw err;
        const openLinkId = await openLinkFor(terms.accountId, { [document]: terms[document] ?? '' });
        // Gone between the insert and this read: the slot is free, a retry will take it.
        if (!openLinkId) throw err;
        return { outcome: 'document_has_open_link', openLinkId };
      }
    },

    /**
     * One transition, atomically: row patch, timeline entries, and (for links that started before
     * payments were recorded by `recordPayment`) a payment. Idempotent.
     */
    async applyChange(change: LinkChange): Promise<void> {
      await db.transaction(async (tx) => {
        if (change.payment) {
          const p = change.payment;
          await tx('payments')
            .insert({
              id: p.id,
              account_id: change.accountId,
              link_id: change.linkId,
              provider: p.provider,
              provider_payment_id: p.providerPaymentId,
              amount: p.amount,
              currency: p.currency,
              status: p.status,
              flags: json(p.flags),
              refund_review: p.refundReview,
              session_id: p.sessionId,
              payment_profile_id: p.paymentProfileId,
              amount_collected: collectedBy(p),
            })
            .onConflict(['account_id', 'provider', 'provider_payment_id'])
            .ignore();
        }
        if (change.patch) await writeLinkPatch(tx, change.accountId, change.linkId, change.patch);
        if (change.patch?.amountPaid !== undefined || change.patch?.status !== undefined) {
          await settleDocuments(tx, change.accountId, change.linkId);
        }
        await insertLinkEvents(tx, change.accountId, change.linkId, change.events);
        await enqueueOutbox(tx, change.accountId, change.linkId, change.outbox);
      });
    },

    async findLink(accountId: string, linkId: string): Promise<LinkRow | undefined> {
      return db('payment_links').where({ id: linkId, account_id: accountId }).first();
    },

    /**
     * The link made by reissuing `linkId`, if any: the first one (before reissue was serialised,
     * two could be made).
     */
    async findReplacement(accountId: string, linkId: string): Promise<LinkRow | undefined> {
      return db('payment_links')
        .where({ account_id: accountId, reissued_from: linkId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
        .first();
    },

    /** By public token: the link page and its QR code, which need no account. */
    async findLinkByToken(token: string): Promise<LinkRow | undefined> {
      return db('payment_links').where({ token }).first();
    },

    openLinkFor,

    /** Whether another link than `exceptId` already holds the reference. */
    async referenceTaken(accountId: string, reference: string, exceptId?: string): Promise<boolean> {
      const query = db('payment_links').where({ account_id: accountId, reference });
      if (exceptId) query.whereNot({ id: exceptId });
      return (await query.first('id')) !== undefined;
    },

    async listEvents(accountId: string, linkId: string): Promise<LinkEventRow[]> {
      return db('link_events')
        .where({ account_id: accountId, link_id: linkId })
        .orderBy('id', 'asc')
        .select('id', 'type', 'data', 'created_at');
    },

    async listPayments(accountId: string, linkId: string): Promise<PaymentRow[]> {
      return db('payments')
        .where({ account_id: accountId, link_id: linkId })
        .orderBy('created_at', 'asc')
        .select(
          'id',
          'link_id',
          'provider',
          'provider_payment_id',
          'amount',
          'currency',
          'status',
          'flags',
          'refund_review',
          'amount_refunded',
          'created_at',
        );
    },
  };
}

export type LinkStore = ReturnType<typeof createLinkStore>;

export async function insertLinkEvents(
  tx: Db,
  accountId: string,
  linkId: string,
  events: LinkEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  await tx('link_events')
    .insert(
      events.map((e) => ({
        account_id: accountId,
        link_id: linkId,
        type: e.type,
        data: json(e.data ?? {}),
        event_key: e.key,
      })),
    )
    .onConflict(['link_id', 'event_key'])
    .ignore();
}
