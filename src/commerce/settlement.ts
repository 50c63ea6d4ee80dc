/**
 * How invoices and orders follow the links that collect for them: an invoice is paid (or partly)
 * by what its links collected in its currency; an order is paid when one link collected it whole.
 * A payment that would take a document past what it is owed is flagged for a refund, never
 * silently counted as a success.
 */
import type { PaymentFlag } from '../../workflows/payment-link/payments';
import type { Db } from '../db/knex';

export interface DocumentBalance {
  kind: 'invoice' | 'order';
  id: string;
  currency: string;
  /** What the document is owed in total. */
  amountDue: number;
  /** What its links had collected before the payment being recorded. */
  amountPaid: number;
  paid: boolean;
}

const OPEN_LINK_STATUSES = ['active', 'partially_paid'];

/**
 * Locks the invoice or order the link collects for (if any) and returns its balance. Two links
 * recording payments for one document at once are serialised here, so neither misses the other.
 */
export async function lockDocumentOf(
  tx: Db,
  accountId: string,
  linkId: string,
): Promise<DocumentBalance | undefined> {
  const link = await tx('payment_links')
    .where({ id: linkId, account_id: accountId })
    .first('invoice_id', 'order_id');
  if (link?.invoice_id) {
    const invoice = await tx('invoices')
      .where({ id: link.invoice_id, account_id: accountId })
      .forUpdate()
      .first('id', 'currency', 'amount_due', 'amount_paid', 'status');
    return (
      invoice && {
        kind: 'invoice',
        id: invoice.id,
        currency: invoice.currency,
        amountDue: invoice.amount_due,
        amountPaid: invoice.amount_paid,
        paid: invoice.status === 'paid',
      }
    );
  }
  if (link?.order_id) {
    const order = await tx('orders')
      .where({ id: link.order_id, account_id: accountId })
      .forUpdate()
      .first('id', 'currency', 'amount', 'status');
    return (
      order && {
        kind: 'order',
        id: order.id,
        currency: order.currency,
        amountDue: order.amount,
        amountPaid: order.status === 'paid' ? order.amount : 0,
        paid: order.status === 'paid',
      }
    );
  }
  return undefined;
}

/**
 * What a payment that adds `collected` to a link in `currency` means for its document: once the
 * document is settled, anything more is collected twice.
 */
export function documentFlags(
  document: DocumentBalance | undefined,
  currency: string,
  collected: number,
): PaymentFlag[] {
  if (!document || document.currency !== currency || collected <= 0) return [];
  if (document.kind === 'order') return document.paid ? ['over_collected'] : [];
  return document.amountPaid + collected > document.amountDue ? ['over_collected'] : [];
}

/** Brings the link's invoice and order up to date with what its links have collected. */
export async function settleDocuments(tx: Db, accountId: string, linkId: string): Promise<void> {
  // Locked first, as its own statement: the sum below then sees every committed payment of the
  // invoice's other links, so two links settling at once cannot lose one another's amounts.
  await tx.raw(
    `SELECT 1 FROM invoices
      WHERE account_id = ? AND id = (SELECT invoice_id FROM payment_links WHERE id = ? AND account_id = ?)
      FOR UPDATE`,
    [accountId, linkId, accountId],
  );
  // Only links in the invoice's own currency count towards it.
  await tx.raw(
    `UPDATE invoices AS i
        SET amount_paid = s.paid,
            status = CASE WHEN s.paid >= i.amount_due THEN 'paid' WHEN s.paid > 0 THEN 'partially_paid' ELSE i.status END
       FROM (SELECT inv.id AS invoice_id, COALESCE(SUM(l.amount_paid), 0) AS paid
               FROM invoices inv
               JOIN payment_links l ON l.account_id = inv.account_id AND l.invoice_id = inv.id AND l.currency = inv.currency
              WHERE inv.account_id = ?
                AND inv.id = (SELECT invoice_id FROM payment_links WHERE id = ? AND account_id = ?)
              GROUP BY inv.id) AS s
      WHERE i.account_id = ? AND i.id = s.invoice_id`,
    [accountId, linkId, accountId, accountId],
  );
  // An order is paid by a link in its currency that collected its whole amount.
  await tx.raw(
    `UPDATE orders AS o SET status = 'paid'
       FROM payment_links AS l
      WHERE l.id = ? AND l.account_id = ? AND o.account_id = l.account_id AND o.id = l.order_id
        AND l.status IN ('paid', 'completed') AND l.currency = o.currency AND l.amount_paid >= o.amount`,
    [linkId, accountId],
  );
}

/**
 * The other links still open for the link's invoice or order once that document is paid: they
 * have nothing left to collect. (Only links made before one open link per document was enforced.)
 */
export async function linksLeftOpenBySettlement(
  tx: Db,
  accountId: string,
  linkId: string,
): Promise<string[]> {
  const rows = await tx('payment_links as other')
    .join('payment_links as paid', function () {
      this.on('paid.account_id', '=', 'other.account_id').andOn(function () {
        this.on('paid.invoice_id', '=', 'other.invoice_id').orOn('paid.order_id', '=', 'other.order_id');
      });
    })
    .leftJoin('invoices as i', function () {
      this.on('i.id', '=', 'paid.invoice_id').andOn('i.account_id', '=', 'paid.account_id');
    })
    .leftJoin('orders as o', function () {
      this.on('o.id', '=', 'paid.order_id').andOn('o.account_id', '=', 'paid.account_id');
    })
    .where({ 'paid.id': linkId, 'paid.account_id': accountId })
    .whereNot('other.id', linkId)
    .whereIn('other.status', OPEN_LINK_STATUSES)
    .where((q) => q.where('i.status', 'paid').orWhere('o.status', 'paid'))
    .orderBy('other.id')
    .select('other.id');
  return rows.map((r: { id: string }) => r.id);
}
