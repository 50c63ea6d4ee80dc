/**
 * Money a person typed, in the currency's major unit and their locale's format ("12,50" in
 * fr-FR, "1.250" yen in de-DE), to an integer count of minor units. The locale's separators,
 * digits and currency signs are @internationalized/number's job; this module only turns its
 * number into minor units exactly, and refuses more decimals than the currency has.
 */
import { NumberParser } from '@internationalized/number';
import { currencyExponent } from './currencies';

export type TypedAmount =
  | { ok: true; minor: number }
  | { ok: false; reason: 'not_a_number' | 'too_many_decimals' };

/** More digits than a double holds exactly: a typed amount this long cannot be trusted. */
const MAX_DIGITS = 15;

function parserFor(locale: string, currency: string): NumberParser {
  try {
    return new NumberParser(locale, { style: 'currency', currency });
  } catch {
    return new NumberParser('en', { style: 'currency', currency });
  }
}

export function parseTypedAmount(input: string, currency: string, locale: string): TypedAmount {
  const exponent = currencyExponent(currency) ?? 2;
  const typed = input.trim();
  if (typed === '' || (typed.match(/\p{Nd}/gu)?.length ?? 0) > MAX_DIGITS)
    return { ok: false, reason: 'not_a_number' };
  const parser = parserFor(locale, currency);
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
  const minor = Number(BigInt(whole + fraction.padEnd(exponent, '0')));
  return { ok: true, minor: value < 0 ? -minor : minor };
}
