/**
 * A recipient's payment link: the campaign's template filled in for them, as the create request
 * the API would have received. Its id is derived from (campaign, seq), so making it twice (a
 * retried page, a worker that died mid-page) finds the first one instead of making another.
 */
import { createHash } from 'node:crypto';
import type { Channel, Customer } from '../../workflows/payment-link/contract';
import { contactFor } from '../../workflows/payment-link/contract';
import { fromZodError } from '../api/errors';
import { type CreatePaymentLinkBody, CreatePaymentLinkSchema } from '../links/create-link';
import { renderDescription } from './placeholders';
import type { LinkTemplate } from './schema';
import type { RecipientRow } from './types';

/** `plink_` + 22 base64url characters of sha256(campaign:seq); seq 0 is a single-link campaign's link. */
export function campaignLinkId(campaignId: string, seq: number): string {
  const digest = createHash('sha256').update(`${campaignId}:${seq}`).digest('base64url');
  return `plink_${digest.slice(0, 22)}`;
}

/** Fields the template may not set: they are the recipient's, or the campaign's. */
const PER_LINK_FIELDS = [
  'customer',
  'customer_id',
  'reference',
  'invoice_id',
  'order_id',
  'campaign_id',
  'amount',
  'description',
  'metadata',
] as const;

type Recipient = Pick<
  RecipientRow,
  'name' | 'email' | 'phone' | 'locale' | 'timezone' | 'amount' | 'reference' | 'metadata'
>;

/** The description's placeholders filled as the campaigns API validated them (placeholders.ts). */
export function fillPlaceholders(
  text: string,
  recipient: Recipient,
  amount: number,
  currency: string,
): string {
  return renderDescription(text, {
    name: recipient.name,
    email: recipient.email,
    phone: recipient.phone,
    reference: recipient.reference,
    amount,
    currency,
    locale: recipient.locale,
    metadata: recipient.metadata,
  });
}

const omitEmpty = <T extends Record<string, unknown>>(o: T): Partial<T> =>
  Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ) as Partial<T>;

export type LinkBodyResult = { ok: true; body: CreatePaymentLinkBody } | { ok: false; error: string };

/**
 * The create request for one recipient. Channels the recipient has no address for are left out
 * (a recipient with only an email is still reached by email when the template says email and SMS);
 * none left is an error, as is anything the link schema refuses.
 */
export function recipientLinkBody(
  template: LinkTemplate,
  recipient: Recipient,
  campaignId: string,
): LinkBodyResult {
  const rest: Record<string, unknown> = { ...template };
  for (const field of PER_LINK_FIELDS) delete rest[field];
  const amount = recipient.amount ?? template.amount;
  if (amount === undefined || amount === null)
    return { ok: false, error: 'amount: neither the recipient nor the template has one' };
  const customer: Customer = omitEmpty({
    name: recipient.name ?? undefined,
    email: recipient.email ?? undefined,
    phone: recipient.phone ?? undefined,
    locale: recipient.locale ?? undefined,
    timezone: recipient.timezone ?? undefined,
  });
  const wanted: Channel[] = template.channels ?? [];
  const channels = wanted.filter((c) => contactFor(customer, c));
  if (wanted.length > 0 && channels.length === 0) {
    return { ok: false, error: `channels: the recipient has no address for ${wanted.join(' or ')}` };
  }
  const metadata = { ...(template.metadata ?? {}), ...(recipient.metadata ?? {}) };
  const body = {
    ...rest,
    amount,
    channels,
    ...(template.description !== undefined
      ? { description: fillPlaceholders(template.description, recipient, amount, template.currency) }
      : {}),
    customer,
    ...(recipient.reference ? { reference: recipient.reference } : {}),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    campaign_id: campaignId,
  };
  return parsed(body);
}

/** Nobody in particular: a single-link campaign's placeholders, a recipient's fields left unset. */
export const NO_RECIPIENT: Recipient = {
  name: null,
  email: null,
  phone: null,
  locale: null,
  timezone: null,
  amount: null,
  reference: null,
  metadata: {},
};

/** A single-link campaign's one link: multi-use until it expires, sent to nobody. */
export function singleLinkBody(template: LinkTemplate, campaignId: string): LinkBodyResult {
  const rest: Record<string, unknown> = { ...template };
  for (const field of PER_LINK_FIELDS) delete rest[field];
  if (template.amount === undefined) return { ok: false, error: 'amount: the template has none' };
  const body = {
    ...rest,
    amount: template.amount,
    ...(template.description !== undefined
      ? {
          description: fillPlaceholders(
            template.description,
            NO_RECIPIENT,
            template.amount,
            template.currency,
          ),
        }
      : {}),
    ...(template.metadata ? { metadata: template.metadata } : {}),
    channels: [],
    max_payments: null,
    accept_partial: false,
    campaign_id: campaignId,
  };
  return parsed(body);
}

function parsed(body: Record<string, unknown>): LinkBodyResult {
  const result = CreatePaymentLinkSchema.safeParse(body);
  if (result.success) return { ok: true, body: result.data };
  const err = fromZodError(result.error);
  return { ok: false, error: err.param ? `${err.param}: ${err.message}` : err.message };
}
