import { currencyExponent } from './currencies';

/**
 * An amount in minor units, formatted for a person in their locale: ¥1,999, 19,99 €, $19.99.
 * Division happens only here, for display; amounts are integers everywhere else.
 */
export function formatAmount(minor: number, currency: string, locale: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  return format.format(minor / 10 ** exponent);
}

/** An amount as a person types it in their locale, without symbol or grouping: 12,50 · 1250 · 12.50. */
export function formatAmountForInput(minor: number, currency: string, locale: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
    useGrouping: false,
  }).format(minor / 10 ** exponent);
}
