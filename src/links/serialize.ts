import type { LinkTerms } from '../../workflows/payment-link/contract';
import type { LinkEventRow, LinkRow } from './link-store';
import type { LinkViews } from './page-views';

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export const linkUrl = (publicBaseUrl: string, token: string) => `${publicBaseUrl}/l/${token}`;

/**
 * The API representation of a link (snake_case, times in UTC ISO 8601). `views` (its public
 * page's view count, first and last view) is read on retrieval only, not in lists.
 */
export function serializeLink(row: LinkRow, publicBaseUrl: string, extra: { views?: LinkViews } = {}) {
  return {
    id: row.id,
    object: 'payment_link' as const,
    url: linkUrl(publicBaseUrl, row.token),
    qr_code_url: `${linkUrl(publicBaseUrl, row.token)}/qr.png`,
    status: row.status,
    amount: row.amount,
    currency: row.currency,
    amount_paid: row.amount_paid,
    payments_count: row.payments_count,
    description: row.description,
    line_items: row.line_items.map((i) => ({
      name: i.name,
      quantity: i.quantity,
      unit_amount: i.unitAmount,
    })),
    reference: row.reference,
    customer: row.customer,
    customer_id: row.customer_id,
    expires_at: row.expires_at.toISOString(),
    max_payments: row.max_payments,
    accept_partial: row.accept_partial,
    min_partial_amount: row.min_partial_amount,
    channels: row.channels,
    reminders: { after_created: row.reminders.afterCreated, before_expiry: row.reminders.beforeExpiry },
    quiet_hours: row.quiet_hours,
    timezone: row.timezone,
    invoice_id: row.invoice_id,
    order_id: row.order_id,
    campaign_id: row.campaign_id,
    metadata: row.metadata,
    success_url: row.success_url,
    notify_on_expiry: row.notify_on_expiry,
    reissued_from: row.reissued_from,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    closed_at: isoOrNull(row.closed_at),
    ...(extra.views ? { views: extra.views } : {}),
  };
}

/** The row a link's workflow is about to write, for answering before it has. */
export function rowFromTerms(terms: LinkTerms): LinkRow {
  return {
    id: terms.id,
    account_id: terms.accountId,
    token: terms.token,
    status: 'active',
    amount: terms.amount,
    currency: terms.currency,
    description: terms.description,
    line_items: terms.lineItems,
    reference: terms.reference,
    customer: terms.customer as Record<string, string> | null,
    customer_id: terms.customerId,
    timezone: terms.timezone,
    expires_at: new Date(terms.expiresAt),
    max_payments: terms.maxPayments,
    accept_partial: terms.acceptPartial,
    min_partial_amount: terms.minPartialAmount,
    channels: terms.channels,
    reminders: terms.reminders,
    quiet_hours: terms.quietHours,
    invoice_id: terms.invoiceId,
    order_id: terms.orderId,
    campaign_id: terms.campaignId,
    metadata: terms.metadata,
    success_url: terms.successUrl,
    notify_on_expiry: terms.notifyOnExpiry,
    reissued_from: terms.reissuedFrom ?? null,
    amount_paid: 0,
    payments_count: 0,
    created_at: new Date(terms.createdAt),
    updated_at: new Date(terms.createdAt),
    closed_at: null,
  };
}

export function serializeEvent(row: LinkEventRow) {
  return { type: row.type, data: row.data, created_at: row.created_at.toISOString() };
}
