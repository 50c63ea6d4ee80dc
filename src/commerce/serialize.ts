/** Invoices and orders as the API and their webhooks show them. */
import { DateTime } from 'luxon';
import type { InvoiceRow, OrderRow } from './stores';

const iso = (d: Date) => d.toISOString();

export const serializeInvoice = (i: InvoiceRow) => ({
  id: i.id,
  object: 'invoice' as const,
  number: i.number,
  customer_id: i.customer_id,
  amount_due: i.amount_due,
  amount_paid: i.amount_paid,
  amount_refunded: i.amount_refunded,
  currency: i.currency,
  due_date: typeof i.due_date === 'string' ? i.due_date : DateTime.fromJSDate(i.due_date as Date).toISODate(),
  status: i.status,
  metadata: i.metadata,
  created_at: iso(i.created_at),
});

export const serializeOrder = (o: OrderRow) => ({
  id: o.id,
  object: 'order' as const,
  customer_id: o.customer_id,
  amount: o.amount,
  amount_paid: o.amount_paid,
  amount_refunded: o.amount_refunded,
  currency: o.currency,
  description: o.description,
  status: o.status,
  metadata: o.metadata,
  created_at: iso(o.created_at),
});
