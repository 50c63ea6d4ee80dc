/**
 * What a transition announces, as rows of the transactional outbox: written by the same
 * transaction as the transition (recordChange, recordPayments), delivered by the worker's
 * drainer (src/outbox/). Pure: built by the workflow and by the activity that records payments.
 */
import type { WebhookEvent } from '../../activities/webhooks';
import { type Channel, isTerminal, type PaymentReceived } from './contract';
import { type Ledger, type PaymentDecision, paymentAnnouncements } from './payments';
import { type LinkSnapshot, linkWebhookEvent } from './webhook-event';

export type ClosingMessageKind = 'receipt' | 'cancelled' | 'expired';

/** A closing message: what `notifyCustomer` is given, less the link and account (the row has them). */
export interface ClosingMessage {
  channel: Channel;
  kind: ClosingMessageKind;
  messageKey: string;
}

export type OutboxItem =
  | { kind: 'webhook'; key: string; payload: WebhookEvent }
  | { kind: 'message'; key: string; payload: ClosingMessage };

/** One merchant webhook; keyed by its event id, which is stable per link and event. */
export const webhookItem = (event: WebhookEvent): OutboxItem => ({
  kind: 'webhook',
  key: event.id,
  payload: event,
});

/** The closing message on the channel the workflow chose (none when the customer has no contact). */
export const closingMessageItem = (kind: ClosingMessageKind, channel: Channel | undefined): OutboxItem[] =>
  channel ? [{ kind: 'message', key: `message:${kind}`, payload: { channel, kind, messageKey: kind } }] : [];

/** What `recordPayments` needs to announce the payments it records, as the workflow would have. */
export interface PaymentAnnouncing {
  /** The link as the workflow knows it; each webhook carries it as its payment left it. */
  link: LinkSnapshot;
  /** Where a single-use link's receipt goes, if anywhere. */
  receiptChannel: Channel | null;
}

/** The webhooks (and the receipt) of one recorded payment: the same pure rules as before the outbox. */
export function paymentItems(
  announcing: PaymentAnnouncing,
  before: Ledger,
  payment: PaymentReceived,
  decision: PaymentDecision,
  createdAt: string,
): OutboxItem[] {
  const link = { ...announcing.link, status: decision.status, amountPaid: decision.amountPaid };
  const items: OutboxItem[] = [];
  const closing = !isTerminal(before.status) && isTerminal(decision.status);
  // Receipts go to the link's customer: for a multi-use link that is not who paid.
  if (closing && decision.status === 'paid' && before.terms.maxPayments === 1)
    items.push(...closingMessageItem('receipt', announcing.receiptChannel ?? undefined));
  for (const a of paymentAnnouncements(before, payment, decision))
    items.push(webhookItem(linkWebhookEvent(link, a, createdAt)));
  return items;
}
