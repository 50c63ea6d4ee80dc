/**
 * Refunds: money given back on a payment, in full or in part, through the provider that took it.
 * The API records them, not the link's workflow (whose lifecycle may be long over). A refund is
 * reserved first (a `pending` row, under a lock of the payment, never beyond what it paid), then
 * asked of the provider with the refund's id as its idempotency key, then written in one
 * transaction: the refund, the payment's `amount_refunded` (its refund review cleared), a
 * `payment.refunded` entry on the link's timeline, and the figures and status of the invoice or
 * order the payment collected for with its `invoice.refunded` / `order.refunded` webhook (through
 * the outbox); the merchant's `payment.refunded` webhook goes out through the webhook-delivery
 * workflow.
 */
import type { Client } from '@temporalio/client';
import { EventTypes } from '../../workflows/payment-link/contract';
import { type OutboxItem, webhookItem } from '../../workflows/payment-link/outbox-items';
import { linkWebhookEvent } from '../../workflows/payment-link/webhook-event';
import { ApiError } from '../api/errors';
import { serializeInvoice, serializeOrder } from '../commerce/serialize';
import { type SettledDocument, settleDocuments } from '../commerce/settlement';
import type { Db } from '../db/knex';
import { insertLinkEvents, type LinkRow, type LinkStore } from '../links/link-store';
import type { Logger } from '../logger';
import { enqueueOutbox } from '../outbox/outbox-store';
import { announceWebhook, snapshotOfRow } from '../webhooks/announce';
import type { ProviderRefund } from './provider';
import type { ProviderDirectory } from './provider-directory';
import { stripeAmountProblem } from './stripe-units';

export interface RefundRow {
  id: string;
  account_id: string;
  payment_id: string;
  link_id: string;
  provider: string;
  provider_refund_id: string | null;
  amount: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed';
  failure_reason: string | null;
  created_at: Date;
}

interface PaymentForRefund {
  id: string;
  account_id: string;
  link_id: string;
  provider: string;
  provider_payment_id: string;
  amount: number;
  amount_refunded: number;
  currency: string;
  status: string;
}

export function createRefunds(deps: {
  db: Db;
  providers: ProviderDirectory;
  links: LinkStore;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
}) {
  const { db, providers, links, temporal, taskQueue, logger } = deps;

  /** The pending refund `refundId`, made once: a retry (same Idempotency-Key) finds it. */
  async function reserve(
    accountId: string,
    paymentId: string,
    amount: number | undefined,
    refundId: string,
  ): Promise<{ refund: RefundRow; payment: PaymentForRefund }> {
    return db.transaction(async (tx) => {
      const payment: PaymentForRefund | undefined = await tx('payments')
        .where({ id: paymentId, account_id: accountId })
        .forUpdate()
        .first();
      if (!payment) throw ApiError.notFound('payment', paymentId);
      const existing: RefundRow | undefined = await tx('refunds')
        .where({ id: refundId, account_id: accountId })
        .first();
      if (existing) return { refund: existing, payment };
      if (payment.status !== 'succeeded')
        throw ApiError.conflict(
          `Payment ${paymentId} was not taken: nothing to refund`,
          'payment_not_refundable',
        );
      // Money already given back, or on its way back: a refund never takes the total past the payment.
      const [sum] = await tx('refunds')
        .where({ account_id: accountId, payment_id: paymentId })
        .whereIn('status', ['pending', 'succeeded'])
        .sum({ held: 'amount' });
      const refundable = payment.amount - Number(sum?.held ?? 0);
      const wanted = amount ?? refundable;
      if (wanted <= 0 || wanted > refundable) {
        throw ApiError.conflict(
          refundable <= 0
            ? `Payment ${paymentId} is already refunded in full`
            : `At most ${refundable} of payment ${paymentId} can be refunded`,
          'refund_exceeds_payment',
          'amount',
        );
      }
      // Stripe counts in its own units: a refund it cannot represent is refused before it is asked.
      const unrepresentable = payment.provider === 'stripe' && stripeAmountProblem(wanted, payment.currency);
      if (unrepresentable) throw ApiError.invalid(`Invalid amount: ${unrepresentable.message}`, 'amount');
      const [refund] = await tx('refunds')
        .insert({
          id: refundId,
          account_id: accountId,
          payment_id: payment.id,
          link_id: payment.link_id,
          provider: payment.provider,
          amount: wanted,
          currency: payment.currency,
        })
        .returning('*');
      return { refund, payment };
    });
  }

  /** The provider's answer, written with the payment and the timeline in one transaction. */
  async function settle(
    refund: RefundRow,
    answer: Omit<ProviderRefund, 'providerRefundId'> & { providerRefundId: string | null },
  ): Promise<RefundRow> {
    return db.transaction(async (tx) => {
      const [row]: RefundRow[] = await tx('refunds')
        .where({ id: refund.id, account_id: refund.account_id, status: 'pending' })
        .update({
          status: answer.status,
          provider_refund_id: answer.providerRefundId,
          failure_reason: answer.failureReason ?? null,
          updated_at: db.fn.now(),
        })
        .returning('*');
      if (!row) return (await tx('refunds').where({ id: refund.id }).first()) as RefundRow;
      if (row.status !== 'succeeded') return row;
      await tx('payments')
        .where({ id: row.payment_id, account_id: row.account_id })
        .update({ amount_refunded: tx.raw('amount_refunded + ?', [row.amount]), refund_review: false });
      // The invoice or order the payment collected for has that much less: its figures, its
      // status and its webhook change with the refund, in this transaction.
      const documents = await settleDocuments(tx, row.account_id, row.link_id);
      await enqueueOutbox(tx, row.account_id, row.link_id, await documentRefundedItems(tx, row, documents));
      await insertLinkEvents(tx, row.account_id, row.link_id, [
        {
          key: `refund:${row.id}`,
          type: EventTypes.paymentRefunded,
          data: {
            payment_id: row.payment_id,
            refund_id: row.id,
            amount: row.amount,
            currency: row.currency,
            provider: row.provider,
            provider_refund_id: row.provider_refund_id,
          },
        },
      ]);
      return row;
    });
  }

  /** `invoice.refunded` / `order.refunded`, delivered by the outbox like the link's own webhooks. */
  async function documentRefundedItems(
    tx: Db,
    refund: RefundRow,
    documents: SettledDocument[],
  ): Promise<OutboxItem[]> {
    if (documents.length === 0) return [];
    const link = await tx('payment_links')
      .where({ id: refund.link_id, account_id: refund.account_id })
      .first<LinkRow | undefined>();
    if (!link) return [];
    const items: OutboxItem[] = [];
    for (const document of documents) {
      const shown =
        document.kind === 'invoice'
          ? await tx('invoices')
              .where({ id: document.id, account_id: refund.account_id })
              .first()
              .then((i) => i && serializeInvoice(i))
          : await tx('orders')
              .where({ id: document.id, account_id: refund.account_id })
              .first()
              .then((o) => o && serializeOrder(o));
      if (!shown) continue;
      const event = linkWebhookEvent(
        snapshotOfRow(link),
        {
          type: `${document.kind}.refunded`,
          key: `refund_${refund.id}_${document.kind}`,
          extra: { [document.kind]: shown, refund: serializeRefund(refund) },
        },
        new Date().toISOString(),
      );
      items.push(webhookItem(event));
    }
    return items;
  }

  async function announce(refund: RefundRow): Promise<void> {
    const link = await links.findLink(refund.account_id, refund.link_id);
    const payment: PaymentForRefund | undefined = await db('payments')
      .where({ id: refund.payment_id, account_id: refund.account_id })
      .first();
    if (!link || !payment) return;
    const event = linkWebhookEvent(
      snapshotOfRow(link),
      {
        type: EventTypes.paymentRefunded,
        key: `refund_${refund.id}`,
        extra: {
          payment: {
            id: payment.id,
            amount: payment.amount,
            amount_refunded: payment.amount_refunded,
            currency: payment.currency,
          },
          refund: serializeRefund(refund),
        },
      },
      new Date().toISOString(),
    );
    await announceWebhook(temporal, taskQueue, event);
  }

  return {
    /** A payment of the account with its refunds, oldest first; undefined when there is none. */
    async paymentWithRefunds(accountId: string, paymentId: string) {
      const payment = await db('payments').where({ id: paymentId, account_id: accountId }).first();
      if (!payment) return undefined;
      const rows: RefundRow[] = await db('refunds')
        .where({ account_id: accountId, payment_id: paymentId })
        .orderBy('created_at', 'asc');
      return { payment, refunds: rows };
    },

    /** Refunds `amount` (default: all that is left) of a payment; `refundId` is reserved by the caller. */
    async refund(
      accountId: string,
      paymentId: string,
      amount: number | undefined,
      refundId: string,
    ): Promise<RefundRow> {
      const { refund, payment } = await reserve(accountId, paymentId, amount, refundId);
      if (refund.status === 'succeeded') await announce(refund); // a retry after a crash
      if (refund.status !== 'pending') return refund;
      const provider = await providers.byName(accountId, refund.provider);
      if (!provider) {
        await db('refunds')
          .where({ id: refund.id, status: 'pending' })
          .update({ status: 'failed', failure_reason: 'provider_unavailable', updated_at: db.fn.now() });
        throw ApiError.conflict(
          `The account no longer takes payments through ${refund.provider}: the refund cannot be made here`,
          'provider_unavailable',
        );
      }
      let answer: ProviderRefund;
      try {
        answer = await provider.refund({
          refundId: refund.id,
          providerPaymentId: payment.provider_payment_id,
          amount: refund.amount,
          currency: refund.currency,
        });
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== undefined && status >= 400 && status < 500) {
          // The provider refused it: nothing was refunded, the amount is free again.
          const reason = err instanceof Error ? err.message : 'refused';
          await settle(refund, { providerRefundId: null, status: 'failed', failureReason: reason });
          throw ApiError.unprocessable(`${refund.provider} refused the refund: ${reason}`, 'refund_refused');
        }
        // Unknown outcome: the refund stays pending; a retry with the same key asks again, once.
        logger.warn({ err, refund: refund.id }, 'the refund could not be confirmed by the provider');
        throw new ApiError(
          502,
          'api_error',
          'provider_unreachable',
          'The payment provider did not answer; retry',
        );
      }
      const settled = await settle(refund, answer);
      if (settled.status === 'succeeded') await announce(settled);
      return settled;
    },
  };
}

export type Refunds = ReturnType<typeof createRefunds>;

export const serializeRefund = (r: RefundRow) => ({
  id: r.id,
  object: 'refund' as const,
  payment: r.payment_id,
  payment_link: r.link_id,
  amount: r.amount,
  currency: r.currency,
  status: r.status,
  provider: r.provider,
  provider_refund_id: r.provider_refund_id,
  failure_reason: r.failure_reason,
  created_at: r.created_at.toISOString(),
});
