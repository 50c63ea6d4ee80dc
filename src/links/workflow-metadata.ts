/**
 * What the Temporal UI shows for a link's workflow before anyone opens its history: a one-line
 * static summary and a few lines of static details. Customers' addresses are masked. These are
 * user-metadata payloads: a payload codec, when configured, encrypts them like any other payload.
 */
import type { LinkTerms } from '../../workflows/payment-link/contract';
import { currencyExponent } from '../money/currencies';
import { maskContact } from '../observability/mask';

const amountOf = (terms: LinkTerms): string => {
  const exponent = currencyExponent(terms.currency) ?? 2;
  return `${(terms.amount / 10 ** exponent).toFixed(exponent)} ${terms.currency}`;
};

const customerOf = (terms: LinkTerms): string | undefined => {
  const contact = terms.customer?.email ?? terms.customer?.phone;
  return contact ? maskContact(contact) : undefined;
};

/** "Payment link 19.99 USD for a•••@example.com, ref INV-1001". */
export function linkStaticSummary(terms: LinkTerms): string {
  const customer = customerOf(terms);
  return [
    `Payment link ${amountOf(terms)}`,
    ...(customer ? [` for ${customer}`] : []),
    ...(terms.reference ? [`, ref ${terms.reference}`] : []),
  ].join('');
}

/** Markdown lines: amount, customer, reference, invoice, order, campaign, expiry. */
export function linkStaticDetails(terms: LinkTerms): string {
  const rows: [string, string | null | undefined][] = [
    ['Amount', amountOf(terms)],
    ['Customer', customerOf(terms)],
    ['Customer id', terms.customerId],
    ['Reference', terms.reference],
    ['Invoice', terms.invoiceId],
    ['Order', terms.orderId],
    ['Campaign', terms.campaignId],
    ['Account', terms.accountId],
    ['Expires', terms.expiresAt],
  ];
  return rows
    .filter((row): row is [string, string] => Boolean(row[1]))
    .map(([name, value]) => `**${name}:** ${value}`)
    .join('\n');
}
