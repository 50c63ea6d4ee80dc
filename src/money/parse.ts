/**
 * Money a person typed, in the currency's major unit and their locale's format ("12,50" in
 * fr-FR, "1.250" yen in de-DE), to an integer count of minor units. The locale's separators,
 * digits and currency signs are @internationalized/number's job; this module turns its number
 * into minor units exactly, refuses more decimals than the currency has, and refuses grouping
 * the locale does not write (see `groupedAsTheLocaleWrites`).
 */
import { NumberParser } from '@internationalized/number';
import { currencyExponent } from './currencies';

export type TypedAmount =
  | { ok: true; minor: number }
  | { ok: false; reason: 'not_a_number' | 'too_many_decimals' | 'misgrouped' };

/** More digits than a double holds exactly: a typed amount this long cannot be trusted. */
const MAX_DIGITS = 15;

/** The locale the parser and the grouping rules use: the customer's, or `en` if unknown. */
function supportedLocale(locale: string): string {
  try {
    new NumberParser(locale, { style: 'currency', currency: 'EUR' });
    return locale;
  } catch {
    return 'en';
  }
}

export function parseTypedAmount(input: string, currency: string, locale: string): TypedAmount {
  const exponent = currencyExponent(currency) ?? 2;
  const typed = input.trim();
  if (typed === '' || (typed.match(/\p{Nd}/gu)?.length ?? 0) > MAX_DIGITS)
    return { ok: false, reason: 'not_a_number' };
  const resolved = supportedLocale(locale);
  const parser = new NumberParser(resolved, { style: 'currency', currency });
  const value = parser.parse(typed);
  if (!Number.isFinite(value)) return { ok: false, reason: 'not_a_number' };
  // The shortest decimal that is this double: with at most 15 digits typed, the digits typed.
  const decimal = Math.abs(value).toString();
  if (decimal.includes('e-')) return { ok: false, reason: 'too_many_decimals' };
  if (decimal.includes('e+')) return { ok: false, reason: 'not_a_number' };
  const [whole = '0', fraction = ''] = decimal.split('.');
  if (fraction.length > exponent) return { ok: false, reason: 'too_many_decimals' };
  // parse() skips what it does not know ("1e3" is 1000); a number in the locale's format passes.
  if (!parser.isValidPartialNumber(typed)) return { ok: false, reason: 'not_a_number' };
  if (!groupedAsTheLocaleWrites(typed, resolved)) return { ok: false, reason: 'misgrouped' };
  const minor = Number(BigInt(whole + fraction.padEnd(exponent, '0')));
  return { ok: true, minor: value < 0 ? -minor : minor };
}

const SPACES = [' ', '\u00a0', '\u202f', '\u2009'];
const APOSTROPHES = ["'", '\u2019'];

/** The locale's separators for the digits typed: Latin digits have their own in ar-EG. */
function separators(locale: string, latinDigits: boolean) {
  const parts = new Intl.NumberFormat(locale, {
    useGrouping: 'always',
    ...(latinDigits ? { numberingSystem: 'latn' } : {}),
  } as Intl.NumberFormatOptions).formatToParts(1234567.5);
  const group = parts.find((p) => p.type === 'group')?.value ?? ',';
  const decimal = parts.find((p) => p.type === 'decimal')?.value ?? '.';
  // What people type for a group that is a space, or an apostrophe, of some kind.
  const groups = SPACES.includes(group) ? SPACES : APOSTROPHES.includes(group) ? APOSTROPHES : [group];
  return { groups, decimal };
}

/**
 * Whether the digits before the decimal separator are either not grouped at all, or grouped
 * exactly where the locale groups that many digits (1,250 in en, 1,25,000 in en-IN, 1 250 in fr).
 * The parser drops every group separator wherever it stands, so on an en page "12,50" (a decimal
 * comma) would be 1,250.00 and "1,,,,5" 15.00: a payment page refuses what it would have to
 * guess rather than charge a hundred times the amount meant.
 */
export function groupedAsTheLocaleWrites(typed: string, locale: string): boolean {
  const latin = !/[^\P{Nd}0-9]/u.test(typed);
  const { groups, decimal } = separators(locale, latin);
  const isDigit = (c: string) => /\p{Nd}/u.test(c);
  const inNumber = (c: string) => isDigit(c) || c === decimal || groups.includes(c);
  const chars = [...typed];
  const first = chars.findIndex(inNumber);
  const last = chars.findLastIndex(inNumber);
  if (first < 0) return true;
  // The number as typed, without the currency sign, sign and spaces around it.
  const number = chars
    .slice(first, last + 1)
    .join('')
    .trim();
  const point = groups.includes(decimal) ? -1 : number.lastIndexOf(decimal);
  const integer = point < 0 ? number : number.slice(0, point);
  const fraction = point < 0 ? '' : number.slice(point + decimal.length);
  if (![...fraction].every(isDigit)) return false;
  // Digits as d, group separators as g, anything else as itself (and so never matching).
  const typedShape = [...integer].map((c) => (isDigit(c) ? 'd' : groups.includes(c) ? 'g' : c)).join('');
  if (/^d*$/.test(typedShape)) return true;
  const digits = typedShape.replaceAll('g', '').length;
  if (digits === 0) return false;
  // How the locale groups that many digits; in the shape, whatever is not a digit is a group.
  const written = new Intl.NumberFormat(locale, {
    useGrouping: 'always',
    numberingSystem: 'latn',
  } as Intl.NumberFormatOptions).format(BigInt('1'.repeat(digits)));
  return typedShape === written.replace(/[0-9]/g, 'd').replace(/[^d]+/g, 'g');
}
