/** The merchant's webhook for a link event: the same shape from the workflow and from the API. */
import type { WebhookEvent } from '../../activities/webhooks';
import type { LinkStatus } from './contract';

/** What the receiver needs to match the event to its own records. */
export interface LinkSnapshot {
  id: string;
  accountId: string;
  status: LinkStatus;
  amount: number;
  amountPaid: number;
  currency: string;
  reference: string | null;
  metadata: Record<string, string>;
  invoiceId: string | null;
  orderId: string | null;
  customerId: string | null;
}

export function linkWebhookEvent(
  link: LinkSnapshot,
  announcement: { type: string; key: string; extra?: Record<string, unknown> },
  createdAt: string,
): WebhookEvent {
  return {
    // Stable for one link and event, so a receiver can de-duplicate retries.
    id: `evt_${link.id}_${announcement.key}`,
    type: announcement.type,
    accountId: link.accountId,
    linkId: link.id,
    createdAt,
    data: {
      payment_link: {
        id: link.id,
        status: link.status,
        amount: link.amount,
        amount_paid: link.amountPaid,
        currency: link.currency,
        reference: link.reference,
        metadata: link.metadata,
        invoice_id: link.invoiceId,
        order_id: link.orderId,
        customer_id: link.customerId,
      },
      ...announcement.extra,
    },
  };
}
