/**
 * How invoices and orders follow the links that collect for them: a document is paid (or partly)
 * by what its links collected in its currency and kept (a refund takes back what it gave back).
 * A payment that would take a document past what it is owed is flagged for a refund, never
 * silently counted as a success.
 */
import type { PaymentFlag } from '../../workflows/payment-link/payments';
import type { Db } from '../db/knex';
import type { DocumentStatus } from './stores';

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

/** Where each kind of document keeps its figures. */
const DOCUMENTS = {
  invoice: { table: 'invoices', column: 'invoice_id', due: 'amount_due' },
  order: { table: 'orders', column: 'order_id', due: 'amount' },
} as const;

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
  const kind = link?.invoice_id ? 'invoice' : link?.order_id ? 'order' : undefined;
  if (!kind) return undefined;
  const { table, column, due } = DOCUMENTS[kind];
  const row = await tx(table)
    .where({ id: link[column], account_id: accountId })
    .forUpdate()
    .first('id', 'currency', `${due} as due`, 'amount_paid', 'amount_refunded', 'status');
  return (
    row && {
      kind,
      id: row.id,
      currency: row.currency,
      amountDue: row.due,
      // Money given back no longer pays the document: what is kept is what counts.
      amountPaid: row.amount_paid - row.amount_refunded,
      paid: row.status === 'paid',
    }
  );
}

/**
 * What a payment that adds `collected` to a link in `currency` means for its document: anything
 * past what the document is owed is collected twice.
 */
export function documentFlags(
  document: DocumentBalance | undefined,
  currency: string,
  collected: number,
): PaymentFlag[] {
  if (!document || document.currency !== currency || collected <= 0) return [];
  return document.amountPaid + collected > document.amountDue ? ['over_collected'] : [];
}

export interface SettledDocument {
  kind: 'invoice' | 'order';
  id: string;
  status: DocumentStatus;
  amountPaid: number;
  amountRefunded: number;
}

/**
 * Brings the link's invoice and order up to date with what its links collected and what was
 * refunded of it: `amount_paid` sums the links in the document's currency, `amount_refunded` what
 * was given back of their payments that counted (a late or set-aside payment never paid the
 * document, so its refund does not unpay it). Returns the documents as they now are.
 */
export async function settleDocuments(tx: Db, accountId: string, linkId: string): Promise<SettledDocument[]> {
  const settled: SettledDocument[] = [];
  for (const kind of ['invoice', 'order'] as const) {
    const { table, column, due } = DOCUMENTS[kind];
    // Locked first, as its own statement: the sums below then see every committed payment of the
    // document's other links, so two links settling at once cannot lose one another's amounts.
    const locked = await tx.raw(
      `SELECT id FROM ?? WHERE account_id = ? AND id = (SELECT ?? FROM payment_links WHERE id = ? AND account_id = ?)
          FOR UPDATE`,
      [table, accountId, column, linkId, accountId],
    );
    const documentId: string | undefined = locked.rows[0]?.id;
    if (!documentId) continue;
    const { rows } = await tx.raw(
      `UPDATE ?? AS d
          SET amount_paid = s.paid,
              amount_refunded = s.refunded,
              status = CASE WHEN s.paid - s.refunded >= d.?? THEN 'paid'
                            WHEN s.refunded > 0 AND s.paid - s.refunded > 0 THEN 'partially_refunded'
                            WHEN s.refunded > 0 THEN 'refunded'
                            WHEN s.paid > 0 THEN 'partially_paid'
                            ELSE 'open' END
         FROM (SELECT COALESCE(SUM(l.amount_paid), 0) AS paid, COALESCE(SUM(r.refunded), 0) AS refunded
                 FROM ?? AS doc
                 JOIN payment_links l ON l.account_id = doc.account_id AND l.?? = doc.id AND l.currency = doc.currency
                 LEFT JOIN LATERAL (
                      SELECT SUM(LEAST(p.amount_refunded, p.amount_collected)) AS refunded
                        FROM payments p WHERE p.account_id = l.account_id AND p.link_id = l.id) AS r ON true
                WHERE doc.account_id = ? AND doc.id = ?) AS s
        WHERE d.account_id = ? AND d.id = ?
        RETURNING d.id, d.status, d.amount_paid, d.amount_refunded`,
      [table, due, table, column, accountId, documentId, accountId, documentId],
    );
    const row = rows[0];
    if (row)
      settled.push({
        kind,
        id: row.id,
        status: row.status,
        amountPaid: Number(row.amount_paid),
        amountRefunded: Number(row.amount_refunded),
      });
  }
  return settled;
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
