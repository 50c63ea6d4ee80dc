/**
 * A payment for a link whose workflow has finished: nobody else will record it, so the callback
 * path does, through the same recorder as the workflow (de-duplicated by Postgres, flagged for
 * refund review), and announces it to the merchant as `payment.flagged`.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { PaymentReceived } from '../../workflows/payment-link/contract';
import { type Ledger, paymentAnnouncements } from '../../workflows/payment-link/payments';
import { linkWebhookEvent } from '../../workflows/payment-link/webhook-event';
import type { LinkRow } from '../links/link-store';
import { announceWebhook, snapshotOfRow } from '../webhooks/announce';
import type { RecordPayments } from './record-payment';

export const ledgerOfRow = (link: LinkRow): Ledger => ({
  status: link.status,
  amountPaid: link.amount_paid,
  paymentsCount: link.payments_count,
  terms: {
    amount: link.amount,
    currency: link.currency,
    maxPayments: link.max_payments,
    acceptPartial: link.accept_partial,
    minPartialAmount: link.min_partial_amount,
  },
});

/** Derived from the provider's id: a redelivered callback recognises the row it wrote before. */
const paymentRowId = (p: PaymentReceived) =>
  `pay_${createHash('sha256').update(`${p.provider}:${p.paymentId}`).digest('hex').slice(0, 32)}`;

export function createLatePayments(deps: {
  recordPayments: RecordPayments;
  temporal: Client;
  taskQueue: string;
}) {
  const { recordPayments, temporal, taskQueue } = deps;
  return async function recordLatePayment(link: LinkRow, payment: PaymentReceived): Promise<void> {
    const before = ledgerOfRow(link);
    const {
      results: [recorded],
    } = await recordPayments({
      linkId: link.id,
      accountId: link.account_id,
      before,
      payments: [{ rowId: paymentRowId(payment), payment }],
      now: new Date().toISOString(),
      linkClosed: true,
    });
    if (recorded?.outcome !== 'recorded') return;
    for (const announcement of paymentAnnouncements(before, payment, recorded.decision)) {
      await announceWebhook(
        temporal,
        taskQueue,
        linkWebhookEvent(snapshotOfRow(link), announcement, new Date().toISOString()),
      );
    }
  };
}

export type RecordLatePayment = ReturnType<typeof createLatePayments>;
