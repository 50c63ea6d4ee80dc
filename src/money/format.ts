import { LRUCache } from 'lru-cache';
import { currencyExponent } from './currencies';

/**
 * Formatters are costly to build (a locale lookup each) and cheap to keep: one per locale,
 * currency and style, kept for the few hundred combinations in use.
 */
const formatters = new LRUCache<string, { format: Intl.NumberFormat; exponent: number }>({ max: 500 });

function formatter(kind: 'display' | 'input' | 'number', currency: string, locale: string) {
  const key = `${kind}\u0000${locale}\u0000${currency}`;
  let cached = formatters.get(key);
  if (!cached) {
    const exponent = currencyExponent(currency) ?? 2;
    const digits = { minimumFractionDigits: exponent, maximumFractionDigits: exponent };
    const format =
      kind === 'display'
        ? new Intl.NumberFormat(locale, { style: 'currency', currency, ...digits })
        : new Intl.NumberFormat(locale, { ...digits, useGrouping: kind === 'number' });
    cached = { format, exponent };
    formatters.set(key, cached);
  }
  return cached;
}

/**
 * An amount in minor units, formatted for a person in their locale: ¥1,999, 19,99 €, $19.99.
 * Division happens only here, for display; amounts are integers everywhere else.
 */
export function formatAmount(minor: number, currency: string, locale: string): string {
  const { format, exponent } = formatter('display', currency, locale);
  return format.format(minor / 10 ** exponent);
}

/** An amount as a person types it in their locale, without symbol or grouping: 12,50 · 1250 · 12.50. */
export function formatAmountForInput(minor: number, currency: string, locale: string): string {
  const { format, exponent } = formatter('input', currency, locale);
  return format.format(minor / 10 ** exponent);
}

/** An amount as a number in the locale's format, grouped, without symbol: 1,250.00 · 1 250,00. */
export function formatDecimal(minor: number, currency: string, locale: string): string {
  const { format, exponent } = formatter('number', currency, locale);
  return format.format(minor / 10 ** exponent);
}
