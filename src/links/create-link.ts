/**
 * What a merchant may send to create a payment link, and how it becomes the workflow's terms.
 * The schema is the single description of the request (validation now, OpenAPI later).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { DateTime, Duration, IANAZone } from 'luxon';
import { z } from 'zod';
import type { Customer, LinkTerms } from '../../workflows/payment-link/contract';
import { CHANNELS, contactFor } from '../../workflows/payment-link/contract';
import { httpUrl, idOf, isoDateTime, MAX_REFERENCE_LENGTH, storable, text } from '../api/text';
import { ID_PREFIX } from '../ids';
import { AmountSchema, lineTotal, MAX_AMOUNT, UnitAmountSchema } from '../money/amount';
import { currencyExponent } from '../money/currencies';

export const DEFAULT_LINK_LIFETIME = 'P30D';
export const MAX_LINK_LIFETIME_DAYS = 365;
export const MAX_REMINDERS = 10;
export const DEFAULT_QUIET_HOURS = { start: '21:00', end: '08:00' } as const;

const MAX_DURATION_MS = 366 * 86_400_000;

const isoDuration = z
  .string()
  .max(64)
  .refine((value) => {
    const d = Duration.fromISO(value);
    return d.isValid && d.toMillis() > 0 && d.toMillis() <= MAX_DURATION_MS;
  }, 'must be a positive ISO 8601 duration of at most a year, such as "P3D" or "PT12H"');

export const clockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day as HH:MM (24-hour)');

export const TimezoneSchema = z
  .string()
  .max(64)
  .refine((zone) => IANAZone.isValidZone(zone), 'must be an IANA time zone such as "Europe/Paris"');

export const LocaleSchema = z
  .string()
  .max(64)
  .refine((tag) => {
    try {
      return Intl.getCanonicalLocales(tag).length === 1;
    } catch {
      return false;
    }
  }, 'must be a BCP 47 language tag such as "en-US"');

const reference = text(MAX_REFERENCE_LENGTH, 1);

/** A phone number in international form, normalised to E.164. */
export const PhoneSchema = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const number = parsePhoneNumberFromString(value);
    if (!number?.isValid()) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a valid phone number in international form (E.164), such as "+14155550123"',
      });
      return z.NEVER;
    }
    return number.number;
  });

export const MetadataSchema = z
  .record(text(40, 1), text(500))
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys');

export const RemindersSchema = z
  .strictObject({
    after_created: z.array(isoDuration).optional(),
    before_expiry: z.array(isoDuration).optional(),
  })
  .refine(
    (r) => (r.after_created?.length ?? 0) + (r.before_expiry?.length ?? 0) <= MAX_REMINDERS,
    `at most ${MAX_REMINDERS} reminders in all`,
  );

export const CustomerSchema = z.strictObject({
  name: text(200, 1).optional(),
  email: storable(z.email().max(254)).optional(),
  phone: PhoneSchema.optional(),
  locale: LocaleSchema.optional(),
  timezone: TimezoneSchema.optional(),
});

export const CreatePaymentLinkSchema = z
  .strictObject({
    amount: AmountSchema,
    currency: z
      .string()
      .transform((code) => code.toUpperCase())
      .refine(
        (code) => currencyExponent(code) !== undefined,
        'must be an ISO 4217 currency code such as "USD"',
      ),
    description: text(1000).optional(),
    line_items: z
      .array(
        z.strictObject({
          name: text(200, 1),
          quantity: z.int().positive(),
          unit_amount: UnitAmountSchema,
        }),
      )
      .max(100)
      .optional(),
    reference: reference.optional(),
    customer: CustomerSchema.optional(),
    customer_id: idOf(ID_PREFIX.customer, 'customer').optional(),
    expires_at: isoDateTime().optional(),
    expires_in: isoDuration.optional(),
    max_payments: z.int().positive().max(2_147_483_647).nullable().optional(),
    accept_partial: z.boolean().optional(),
    min_partial_amount: AmountSchema.optional(),
    channels: z
      .array(z.enum(CHANNELS))
      .refine((list) => new Set(list).size === list.length, 'must not repeat a channel')
      .optional(),
    reminders: RemindersSchema.optional(),
    quiet_hours: z.strictObject({ start: clockTime, end: clockTime }).nullable().optional(),
    invoice_id: idOf(ID_PREFIX.invoice, 'invoice').optional(),
    order_id: idOf(ID_PREFIX.order, 'order').optional(),
    campaign_id: reference.optional(),
    metadata: MetadataSchema.optional(),
    success_url: httpUrl().optional(),
    notify_on_expiry: z.boolean().optional(),
  })
  .superRefine((body, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (body.customer !== undefined && body.customer_id !== undefined) {
      issue('customer_id', 'give either customer or customer_id, not both');
    }
    if (body.invoice_id !== undefined && body.order_id !== undefined) {
      issue('order_id', 'give either invoice_id or order_id, not both');
    }
    if (body.expires_at !== undefined && body.expires_in !== undefined) {
      issue('expires_in', 'give either expires_at or expires_in, not both');
    }
    if (body.line_items) {
      const totals = body.line_items.map((item) => lineTotal(item.quantity, item.unit_amount));
      totals.forEach((total, i) => {
        if (total === undefined)
          issue(`line_items.${i}`, `quantity × unit_amount must be at most ${MAX_AMOUNT} (minor units)`);
      });
      // At most 100 items of at most MAX_AMOUNT each: the sum is exact.
      const total = totals.reduce<number>((sum, t) => sum + (t ?? 0), 0);
      if (totals.every((t) => t !== undefined) && total !== body.amount)
        issue('line_items', `line items total ${total}, which is not the amount ${body.amount}`);
    }
    const maxPayments = body.max_payments === undefined ? 1 : body.max_payments;
    if (body.accept_partial && maxPayments !== 1) {
      issue('accept_partial', 'partial payments are only possible on a single-use link (max_payments 1)');
    }
    if (body.min_partial_amount !== undefined) {
      if (!body.accept_partial) issue('min_partial_amount', 'requires accept_partial: true');
      else if (body.min_partial_amount >= body.amount)
        issue('min_partial_amount', 'must be less than amount');
    }
    // With customer_id the contact details are checked once the customer is loaded.
    for (const channel of body.customer_id ? [] : (body.channels ?? [])) {
      if (!contactFor(body.customer, channel)) {
        issue(
          `customer.${channel === 'email' ? 'email' : 'phone'}`,
          `is required to send by ${channel === 'email' ? 'email' : 'SMS'}`,
        );
      }
    }
  });

export type CreatePaymentLinkBody = z.output<typeof CreatePaymentLinkSchema>;

/** What may change on an open link; each field goes through the workflow's validated update. */
export const UpdatePaymentLinkSchema = z
  .strictObject({
    description: text(1000).nullable().optional(),
    metadata: MetadataSchema.optional(),
    reminders: RemindersSchema.optional(),
    quiet_hours: z.strictObject({ start: clockTime, end: clockTime }).nullable().optional(),
    expires_at: isoDateTime().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

export class LinkTermsError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
    this.name = 'LinkTermsError';
  }
}

export interface TermsContext {
  id: string;
  token: string;
  accountId: string;
  accountTimezone: string;
  now: DateTime;
  /** A stored customer (customer_id), snapshotted into the link. */
  customer?: { id: string } & Customer;
  reissuedFrom?: string;
}

/** Resolves defaults and the expiry against `now`; throws LinkTermsError for an expiry out of range. */
export function toLinkTerms(body: CreatePaymentLinkBody, ctx: TermsContext): LinkTerms {
  const now = ctx.now.toUTC();
  const expiresAt = body.expires_at
    ? DateTime.fromISO(body.expires_at, { setZone: true }).toUTC()
    : now.plus(Duration.fromISO(body.expires_in ?? DEFAULT_LINK_LIFETIME));
  const expiryParam = body.expires_at ? 'expires_at' : 'expires_in';
  if (!expiresAt.isValid) throw new LinkTermsError(`${expiryParam} is not a valid time`, expiryParam);
  if (expiresAt <= now) throw new LinkTermsError(`${expiryParam} must be in the future`, expiryParam);
  if (expiresAt > now.plus({ days: MAX_LINK_LIFETIME_DAYS })) {
    throw new LinkTermsError(
      `${expiryParam} must be at most ${MAX_LINK_LIFETIME_DAYS} days from now`,
      expiryParam,
    );
  }
  const unreachable = ctx.customer && (body.channels ?? []).find((c) => !contactFor(ctx.customer, c));
  if (ctx.customer && unreachable) {
    const missing = unreachable === 'email' ? 'email address' : 'phone number';
    throw new LinkTermsError(`customer ${ctx.customer.id} has no ${missing}`, 'channels');
  }
  const { id: storedCustomerId, ...stored }: { id?: string } & Customer = ctx.customer ?? {};
  const c: Customer | undefined = ctx.customer ? stored : body.customer;
  return {
    id: ctx.id,
    accountId: ctx.accountId,
    token: ctx.token,
    amount: body.amount,
    currency: body.currency,
    description: body.description ?? null,
    lineItems: (body.line_items ?? []).map((i) => ({
      name: i.name,
      quantity: i.quantity,
      unitAmount: i.unit_amount,
    })),
    reference: body.reference ?? null,
    customer: c ? { ...c } : null,
    customerId: storedCustomerId ?? null,
    createdAt: now.toISO() as string,
    expiresAt: expiresAt.toISO() as string,
    maxPayments: body.max_payments === undefined ? 1 : body.max_payments,
    acceptPartial: body.accept_partial ?? false,
    minPartialAmount: body.min_partial_amount ?? null,
    channels: body.channels ?? [],
    reminders: {
      afterCreated: body.reminders?.after_created ?? [],
      beforeExpiry: body.reminders?.before_expiry ?? [],
    },
    quietHours: body.quiet_hours === undefined ? { ...DEFAULT_QUIET_HOURS } : body.quiet_hours,
    timezone: c?.timezone ?? ctx.accountTimezone,
    invoiceId: body.invoice_id ?? null,
    orderId: body.order_id ?? null,
    campaignId: body.campaign_id ?? null,
    metadata: body.metadata ?? {},
    successUrl: body.success_url ?? null,
    notifyOnExpiry: body.notify_on_expiry ?? false,
    reissuedFrom: ctx.reissuedFrom ?? null,
  };
}
