/**
 * A link that names an invoice or an order collects for it: whatever path made it (the document's
 * own route, `POST /v1/payment_links`, a reissue, a campaign), it must be the caller's document,
 * in its currency, single-use, and ask at most what is still owed. Checked before the workflow
 * starts, so a refused link stores nothing and starts nothing.
 */
import { ApiError } from '../api/errors';
import type { CommerceStores, InvoiceRow, OrderRow } from './stores';

/** What is still owed: what is due less what was collected and kept (refunds owe it again). */
export const openBalance = (due: number, d: Pick<InvoiceRow | OrderRow, 'amount_paid' | 'amount_refunded'>) =>
  due - (Number(d.amount_paid) - Number(d.amount_refunded));

export const invoiceBalance = (i: InvoiceRow) => openBalance(Number(i.amount_due), i);
export const orderBalance = (o: OrderRow) => openBalance(Number(o.amount), o);

export interface DocumentTerms {
  amount: number;
  currency: string;
  /** undefined: the default, 1. */
  max_payments?: number | null;
  invoice_id?: string;
  order_id?: string;
}

/** Throws a 400 naming the field when the link does not fit its invoice or order. */
export async function checkDocumentTerms(
  commerce: CommerceStores,
  accountId: string,
  body: DocumentTerms,
): Promise<void> {
  const named = body.invoice_id
    ? { kind: 'invoice' as const, param: 'invoice_id', id: body.invoice_id }
    : body.order_id
      ? { kind: 'order' as const, param: 'order_id', id: body.order_id }
      : undefined;
  if (!named) return;
  const found =
    named.kind === 'invoice'
      ? await commerce
          .findInvoice(accountId, named.id)
          .then((i) => i && { currency: i.currency, balance: invoiceBalance(i) })
      : await commerce
          .findOrder(accountId, named.id)
          .then((o) => o && { currency: o.currency, balance: orderBalance(o) });
  // Another account's document is answered as one that does not exist.
  if (!found) throw ApiError.invalid(`No such ${named.kind}: '${named.id}'`, named.param, 'resource_missing');
  if (body.currency !== found.currency)
    throw ApiError.invalid(
      `currency must be ${found.currency}, the ${named.kind}'s currency`,
      'currency',
      'currency_mismatch',
    );
  if (body.max_payments !== undefined && body.max_payments !== 1)
    throw ApiError.invalid(
      `max_payments must be 1: a link for an ${named.kind} collects it once`,
      'max_payments',
    );
  if (found.balance <= 0)
    throw ApiError.invalid(
      `The ${named.kind} is already paid: there is nothing left to collect`,
      named.param,
      `${named.kind}_paid`,
    );
  if (body.amount > found.balance)
    throw ApiError.invalid(
      `amount must be at most ${found.balance} (minor units), what is left to pay of ${named.kind} ${named.id}`,
      'amount',
      'amount_exceeds_balance',
    );
}
