/**
 * A payment link for an invoice or an order: the amount still owed, reminders that follow the
 * invoice's due date, and at most one open link per document (Postgres holds the slot; the check
 * here only answers early).
 */
import { DateTime } from 'luxon';
import type { Channel, QuietHours } from '../../workflows/payment-link/contract';
import type { AuthenticatedAccount } from '../accounts/accounts';
import { ApiError } from '../api/errors';
import { CreatePaymentLinkSchema, MAX_LINK_LIFETIME_DAYS } from '../links/create-link';
import { documentHasOpenLink, type LinkService } from '../links/link-service';
import type { LinkRow, LinkStore } from '../links/link-store';
import { invoiceBalance, orderBalance } from './document-terms';
import type { CommerceStores } from './stores';

/** What a merchant may choose for a document's link; the rest comes from the document. */
export interface DocumentLinkOptions {
  channels?: Channel[];
  expiresAt?: string;
  quietHours?: QuietHours | null;
  successUrl?: string;
}

/**
 * Reminders for an invoice follow its due date: 3 days before, on the day, 3 and 7 days after
 * (at 09:00 in the customer's zone; quiet hours still apply), and the link lives 14 days past it.
 */
export function invoiceSchedule(dueDate: string, timezone: string, now: DateTime) {
  const due = DateTime.fromISO(dueDate, { zone: timezone }).set({ hour: 9 });
  // A link lives at most a year: for a due date further out, it stops there.
  const latest = now.plus({ days: MAX_LINK_LIFETIME_DAYS });
  const expiresAt = DateTime.min(
    DateTime.max(due.plus({ days: 14 }), now.plus({ days: 1 })) as DateTime,
    latest,
  ) as DateTime;
  const afterCreated = [-3, 0, 3, 7]
    .map((days) => due.plus({ days }))
    .filter((at) => at > now && at < expiresAt)
    .map((at) => `PT${Math.round(at.diff(now).as('seconds'))}S`);
  return { afterCreated, expiresAt: expiresAt.toUTC().toISO() as string };
}

/** The link id an Idempotency-Key reserved for this request, if any. */
type Reserved = { linkId?: string };

const chosen = (o: DocumentLinkOptions) => ({
  ...(o.channels ? { channels: o.channels } : {}),
  ...(o.quietHours !== undefined ? { quiet_hours: o.quietHours } : {}),
  ...(o.successUrl ? { success_url: o.successUrl } : {}),
});

export function createDocumentLinks(deps: {
  commerce: CommerceStores;
  links: LinkStore;
  linkService: LinkService;
}) {
  const { commerce, links, linkService } = deps;

  /** The open link may be this request's own, made by an attempt that died before answering. */
  async function refuseWhenOpen(
    accountId: string,
    document: { invoiceId: string } | { orderId: string },
    reserved: Reserved,
  ) {
    const open = await links.openLinkFor(accountId, document);
    if (open && open !== reserved.linkId) throw documentHasOpenLink(open);
  }

  return {
    async forInvoice(
      account: AuthenticatedAccount,
      invoiceId: string,
      o: DocumentLinkOptions,
      reserved: Reserved = {},
    ): Promise<LinkRow> {
      const invoice = await commerce.findInvoice(account.id, invoiceId);
      if (!invoice) throw ApiError.notFound('invoice', invoiceId);
      if (invoice.status === 'paid')
        throw ApiError.unprocessable('The invoice is already paid', 'invoice_paid');
      await refuseWhenOpen(account.id, { invoiceId }, reserved);
      const customer = invoice.customer_id
        ? await commerce.findCustomer(account.id, invoice.customer_id)
        : undefined;
      const dueDate =
        typeof invoice.due_date === 'string'
          ? invoice.due_date
          : (DateTime.fromJSDate(invoice.due_date as Date).toISODate() as string);
      const schedule = invoiceSchedule(dueDate, customer?.timezone ?? account.timezone, DateTime.utc());
      const body = CreatePaymentLinkSchema.parse({
        amount: invoiceBalance(invoice),
        currency: invoice.currency,
        description: `Invoice ${invoice.number}`,
        ...(invoice.customer_id ? { customer_id: invoice.customer_id } : {}),
        invoice_id: invoice.id,
        expires_at: o.expiresAt ?? schedule.expiresAt,
        reminders: { after_created: schedule.afterCreated },
        accept_partial: true,
        ...chosen(o),
      });
      return linkService.create(account, body, reserved);
    },

    async forOrder(
      account: AuthenticatedAccount,
      orderId: string,
      o: DocumentLinkOptions,
      reserved: Reserved = {},
    ): Promise<LinkRow> {
      const order = await commerce.findOrder(account.id, orderId);
      if (!order) throw ApiError.notFound('order', orderId);
      if (order.status === 'paid') throw ApiError.unprocessable('The order is already paid', 'order_paid');
      await refuseWhenOpen(account.id, { orderId }, reserved);
      const body = CreatePaymentLinkSchema.parse({
        amount: orderBalance(order),
        currency: order.currency,
        ...(order.description ? { description: order.description } : {}),
        ...(order.customer_id ? { customer_id: order.customer_id } : {}),
        order_id: order.id,
        ...(o.expiresAt ? { expires_at: o.expiresAt } : {}),
        ...chosen(o),
      });
      return linkService.create(account, body, reserved);
    },
  };
}

export type DocumentLinks = ReturnType<typeof createDocumentLinks>;
