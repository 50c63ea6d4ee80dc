/**
 * Stripe's minor units, which are not always ISO 4217's. Paylinks stores every amount in ISO 4217
 * minor units (src/money/currencies.ts); Stripe reads `amount`, `unit_amount`, `amount_total` in
 * its own, per currency. The table below is Stripe's supported-currencies page,
 * https://docs.stripe.com/currencies (sections "Zero-decimal currencies", "Three-decimal
 * currencies", "Special cases"), as read in December 2026; docs/STRIPE-UNITS.md shows it whole.
 *
 *  - zero-decimal (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF): Stripe's unit is
 *    the whole unit. ISO agrees for all but MGA (ISO: 2 decimals), so 100.00 MGA is 100 to Stripe
 *    and 100.50 MGA cannot be charged.
 *  - three-decimal (BHD JOD KWD OMR TND): ISO's units, but Stripe's partners need the last digit
 *    to be 0: 1.050 KWD is 1050, 1.055 KWD cannot be charged.
 *  - ISK and UGX: zero-decimal (ISO agrees), but for backwards compatibility Stripe takes them as
 *    two-decimal values whose decimals are always 00: 5,000 ISK is 500000.
 *  - HUF and TWD: two-decimal for charges, as ISO; zero-decimal only for payouts, which Paylinks
 *    does not make. Nothing to convert or refuse.
 *  - every other supported currency: two decimals, as ISO.
 */
import { currencyExponent } from '../money/currencies';

/** Zero-decimal in Stripe's API: its amount is a count of whole units. */
const ZERO_DECIMAL = [
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
] as const;
/** Three decimals, the last one always 0. */
const THREE_DECIMAL = ['BHD', 'JOD', 'KWD', 'OMR', 'TND'] as const;
/** Whole units only, written with two decimals that are always 00. */
const WHOLE_AS_TWO_DECIMALS = ['ISK', 'UGX'] as const;
/** Two-decimal charges; only payouts are whole units (noted, nothing to do for a charge). */
const WHOLE_PAYOUTS_ONLY = ['HUF', 'TWD'] as const;

/** The presentment currencies Stripe charges in, from the same page (plus the three-decimal ones). */
const SUPPORTED = new Set<string>([
  ...ZERO_DECIMAL,
  ...THREE_DECIMAL,
  ...WHOLE_AS_TWO_DECIMALS,
  ...WHOLE_PAYOUTS_ONLY,
  ...`USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BWP BYN BZD CAD
      CDF CHF CNY COP CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GTQ GYD HKD HNL HTG
      IDR ILS INR JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MUR MVR MWK MXN
      MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SEK SGD SHP
      SLE SOS SRD STD SZL THB TJS TOP TRY TTD TZS UAH UYU UZS WST XCD YER ZAR ZMW`.split(/\s+/),
]);

export type StripeCurrencyClass =
  | 'zero-decimal'
  | 'three-decimal'
  | 'whole-as-two-decimals'
  | 'two-decimal'
  | 'unsupported';

export interface StripeUnits {
  class: StripeCurrencyClass;
  /** How many decimals Stripe's amount has. */
  exponent: number;
  /** A Stripe amount must be a multiple of this (10 for three-decimal currencies, 100 for ISK/UGX). */
  step: number;
}

const has = (list: readonly string[], code: string) => list.includes(code);

export function stripeUnits(currency: string): StripeUnits {
  const code = currency.toUpperCase();
  if (!SUPPORTED.has(code) || currencyExponent(code) === undefined)
    return { class: 'unsupported', exponent: 0, step: 1 };
  if (has(ZERO_DECIMAL, code)) return { class: 'zero-decimal', exponent: 0, step: 1 };
  if (has(THREE_DECIMAL, code)) return { class: 'three-decimal', exponent: 3, step: 10 };
  if (has(WHOLE_AS_TWO_DECIMALS, code)) return { class: 'whole-as-two-decimals', exponent: 2, step: 100 };
  return { class: 'two-decimal', exponent: 2, step: 1 };
}

/** Why an amount cannot go to Stripe, naming the field the caller should change. */
export class StripeUnitsError extends Error {
  constructor(
    message: string,
    readonly param: 'currency' | 'amount',
  ) {
    super(message);
    this.name = 'StripeUnitsError';
  }
}

const pow10 = (n: number) => 10 ** n;

/** The smallest ISO amount (minor units) Stripe can charge in `currency`: amounts are its multiples. */
function isoStep(code: string, units: StripeUnits): number {
  const iso = currencyExponent(code) as number;
  // Every step is a power of ten: below one means any ISO amount fits.
  return Math.max(1, units.step * pow10(iso - units.exponent));
}

/** What is wrong with charging `amount` (ISO minor units) through Stripe; undefined: nothing. */
export function stripeAmountProblem(amount: number, currency: string): StripeUnitsError | undefined {
  const code = currency.toUpperCase();
  const units = stripeUnits(code);
  if (units.class === 'unsupported')
    return new StripeUnitsError(`Stripe does not support ${code}: choose another currency`, 'currency');
  const step = isoStep(code, units);
  if (amount % step === 0) return undefined;
  const why =
    units.class === 'three-decimal'
      ? `Stripe charges ${code} with a last digit of 0`
      : `Stripe charges only whole ${code}`;
  return new StripeUnitsError(`must be a multiple of ${step} (minor units): ${why}`, 'amount');
}

/** `amount` in ISO minor units as Stripe's amount; throws StripeUnitsError when it has none. */
export function toStripeAmount(amount: number, currency: string): number {
  const problem = stripeAmountProblem(amount, currency);
  if (problem) throw problem;
  const iso = currencyExponent(currency.toUpperCase()) as number;
  const { exponent } = stripeUnits(currency);
  return iso > exponent ? amount / pow10(iso - exponent) : amount * pow10(exponent - iso);
}

/**
 * Stripe's amount in ISO minor units. Stripe's own amounts are always representable in ours but
 * for a fraction of a unit Stripe says it never charges (ISK, UGX): that is refused, not rounded.
 */
export function fromStripeAmount(amount: number, currency: string): number {
  const code = currency.toUpperCase();
  const units = stripeUnits(code);
  if (units.class === 'unsupported')
    throw new StripeUnitsError(`Stripe does not support ${code}`, 'currency');
  const iso = currencyExponent(code) as number;
  const converted =
    iso >= units.exponent ? amount * pow10(iso - units.exponent) : amount / pow10(units.exponent - iso);
  if (!Number.isInteger(converted))
    throw new StripeUnitsError(`${amount} is not a whole number of ${code} minor units`, 'amount');
  return converted;
}

/** The parts of a link's terms Stripe is sent. */
export interface ChargedTerms {
  amount: number;
  currency: string;
  lineItems: readonly { unitAmount: number }[];
  minPartialAmount: number | null;
}

/** The first part of a link's terms Stripe could not charge, naming its field; undefined: none. */
export function stripeTermsProblem(terms: ChargedTerms): { param: string; message: string } | undefined {
  const whole = stripeAmountProblem(terms.amount, terms.currency);
  if (whole) return { param: whole.param, message: whole.message };
  // Each item goes to Checkout as its own unit_amount when a session pays all of them.
  for (const [i, item] of terms.lineItems.entries()) {
    const problem = stripeAmountProblem(item.unitAmount, terms.currency);
    if (problem) return { param: `line_items.${i}.unit_amount`, message: problem.message };
  }
  const minimum =
    terms.minPartialAmount === null ? undefined : stripeAmountProblem(terms.minPartialAmount, terms.currency);
  if (minimum) return { param: 'min_partial_amount', message: minimum.message };
  return undefined;
}
