/** Money a person types, and the ceiling on amounts: pure rules. */
import { describe, expect, it } from 'vitest';
import { lineTotal, MAX_AMOUNT } from '../../src/money/amount';
import { formatAmount } from '../../src/money/format';
import { parseTypedAmount } from '../../src/money/parse';
import { amountToPay } from '../../src/payments/pay-amount';

describe('parseTypedAmount', () => {
  it.each([
    ['12,50', 'EUR', 'fr-FR', 1250],
    ['12,5', 'EUR', 'fr-FR', 1250],
    ['1 234,56', 'EUR', 'fr-FR', 123456],
    ['1\u202f234,56', 'EUR', 'fr-FR', 123456],
    ['12,50 €', 'EUR', 'fr-FR', 1250],
    ['1.234,56', 'EUR', 'de-DE', 123456],
    ['12.50', 'USD', 'en-US', 1250],
    ['$1,234.50', 'USD', 'en-US', 123450],
    ['4', 'USD', 'en', 400],
    ['0.1', 'USD', 'en', 10],
    ['1250', 'JPY', 'ja-JP', 1250],
    ['1250', 'JPY', 'de-DE', 1250],
    ['1.250', 'JPY', 'de-DE', 1250],
    ['1,250', 'JPY', 'en-US', 1250],
    ['1.234', 'KWD', 'en', 1234],
    ['10000000000', 'USD', 'en', MAX_AMOUNT],
  ])('%s %s in %s is %i minor units', (typed, currency, locale, minor) => {
    expect(parseTypedAmount(typed, currency, locale)).toEqual({ ok: true, minor });
  });

  it.each([
    ['12,505', 'EUR', 'fr-FR'],
    ['1.005', 'USD', 'en'],
    ['12,5', 'JPY', 'de-DE'],
    ['1.250', 'JPY', 'en-US'],
    ['0.0000001', 'USD', 'en'],
  ])('refuses %s %s in %s: more decimals than the currency has', (typed, currency, locale) => {
    expect(parseTypedAmount(typed, currency, locale)).toEqual({ ok: false, reason: 'too_many_decimals' });
  });

  it.each(['abc', '', '   ', '12,50abc', '1e3', '1,2,3', '1 & 2', '99999999999999999999'])(
    'refuses %j: not an amount',
    (typed) => {
      expect(parseTypedAmount(typed, 'EUR', 'fr-FR')).toEqual({ ok: false, reason: 'not_a_number' });
    },
  );
});

describe('a typed amount follows the grouping rules of the customer’s locale', () => {
  it.each([
    // en: "," groups thousands, "." is the decimal point.
    ['1,250.00', 'USD', 'en', 125000],
    ['1250.00', 'USD', 'en', 125000],
    ['12.50', 'USD', 'en', 1250],
    ['1,234,567.89', 'USD', 'en', 123456789],
    ['12,505', 'USD', 'en', 1250500],
    // fr: a (narrow) no-break space or a space groups, "," is the decimal comma.
    ['12,50', 'EUR', 'fr', 1250],
    ['1 250,00', 'EUR', 'fr', 125000],
    ['1\u202f250,00', 'EUR', 'fr', 125000],
    ['1\u00a0250,00', 'EUR', 'fr', 125000],
    ['1 234 567,89 €', 'EUR', 'fr-FR', 123456789],
    // de: "." groups; de-CH: an apostrophe (typed straight or curly).
    ['1.250,00', 'EUR', 'de-DE', 125000],
    ['1\u2019250.00', 'CHF', 'de-CH', 125000],
    ["1'250.00", 'CHF', 'de-CH', 125000],
    // Grouping the locale writes only from five digits on is still the locale's grouping.
    ['1.250,00', 'EUR', 'es', 125000],
    // en-IN groups by two above the thousands.
    ['1,25,000.00', 'INR', 'en-IN', 12500000],
    ['1,250', 'JPY', 'ja', 1250],
    // Latin digits in a locale whose own digits are others: the Latin separators.
    ['1,250.00', 'EGP', 'ar-EG', 125000],
    ['١٬٢٥٠٫٠٠', 'EGP', 'ar-EG', 125000],
  ])('%j %s in %s is %i minor units', (typed, currency, locale, minor) => {
    expect(parseTypedAmount(typed, currency, locale)).toEqual({ ok: true, minor });
  });

  it.each([
    // A decimal comma on an en page: 12,50 would be read as 1,250.00.
    ['12,50', 'EUR', 'en'],
    ['1,,,,5', 'USD', 'en'],
    ['12,50,0', 'USD', 'en'],
    ['1,2345.00', 'USD', 'en'],
    [',125', 'USD', 'en'],
    ['1.250,00', 'USD', 'en'],
    ['1 250.00', 'USD', 'en'],
    // A decimal point on a de page: 12.50 would be read as 1.250,00.
    ['12.50', 'EUR', 'de-DE'],
    ['12 50,00', 'EUR', 'fr'],
    ['1 2 5 0', 'EUR', 'fr'],
    ['125,000.00', 'INR', 'en-IN'],
  ])('refuses %j %s in %s: not grouped as the locale groups', (typed, currency, locale) => {
    expect(parseTypedAmount(typed, currency, locale)).toEqual({ ok: false, reason: 'misgrouped' });
  });
});

describe('amountToPay', () => {
  const link = {
    amount: 5000,
    amount_paid: 1000,
    currency: 'EUR',
    max_payments: 1,
    accept_partial: true,
    min_partial_amount: 300,
  };
  const fr = (minor: number) => formatAmount(minor, 'EUR', 'fr-FR');

  it('takes what the customer typed, in their format, within the range', () => {
    expect(amountToPay(link, '12,50', 'fr-FR')).toEqual({ ok: true, amount: 1250 });
    expect(amountToPay(link, '40,00', 'fr-FR')).toEqual({ ok: true, amount: 4000 });
  });

  it('is the amount due when nothing is typed, or the link takes no partial payment', () => {
    expect(amountToPay(link, undefined, 'fr-FR')).toEqual({ ok: true, amount: 4000 });
    expect(amountToPay(link, ' ', 'fr-FR')).toEqual({ ok: true, amount: 4000 });
    expect(amountToPay({ ...link, accept_partial: false }, '12,50', 'fr-FR')).toEqual({
      ok: true,
      amount: 4000,
    });
  });

  it('refuses an amount not grouped as the locale groups, naming the format it expects', () => {
    const dollars = { ...link, currency: 'USD', amount: 500_000, amount_paid: 0 };
    const range = `Enter an amount between ${formatAmount(300, 'USD', 'en')} and ${formatAmount(500_000, 'USD', 'en')}.`;
    for (const typed of ['12,50', '1,,,,5'])
      expect(amountToPay(dollars, typed, 'en')).toEqual({
        ok: false,
        message: `“${typed}” is not an amount as this page writes them: write it like 12.50 or 1,250.00. ${range}`,
      });
    expect(amountToPay(dollars, '1,250.00', 'en')).toEqual({ ok: true, amount: 125000 });
    expect(amountToPay(link, '12.50', 'de-DE')).toMatchObject({
      ok: false,
      message: expect.stringContaining('write it like 12,50 or 1.250,00.'),
    });
  });

  it('says why an amount is refused, with the range formatted as money in the locale', () => {
    const range = `Enter an amount between ${fr(300)} and ${fr(4000)}.`;
    expect(range).toContain('3,00');
    expect(amountToPay(link, '2,99', 'fr-FR')).toEqual({ ok: false, message: range });
    expect(amountToPay(link, '40,01', 'fr-FR')).toEqual({ ok: false, message: range });
    expect(amountToPay(link, '-5', 'fr-FR')).toEqual({ ok: false, message: range });
    expect(amountToPay(link, '12,505', 'fr-FR')).toEqual({
      ok: false,
      message: `Amounts in EUR have at most 2 decimal places. ${range}`,
    });
    expect(amountToPay(link, 'abc', 'fr-FR')).toEqual({
      ok: false,
      message: `“abc” is not an amount. ${range}`,
    });
    const yen = { ...link, currency: 'JPY', min_partial_amount: null };
    expect(amountToPay(yen, '12,5', 'de-DE')).toEqual({
      ok: false,
      message: `Amounts in JPY have no decimal places. Enter an amount between ${formatAmount(1, 'JPY', 'de-DE')} and ${formatAmount(4000, 'JPY', 'de-DE')}.`,
    });
  });
});

describe('lineTotal', () => {
  it('is quantity × unit amount up to the ceiling, exactly', () => {
    expect(lineTotal(4, 250_000_000_000)).toBe(MAX_AMOUNT);
    expect(lineTotal(3, 0)).toBe(0);
    expect(lineTotal(Number.MAX_SAFE_INTEGER, 0)).toBe(0);
  });

  it('is undefined above the ceiling, even where a float product would round under it', () => {
    expect(lineTotal(2, 500_000_000_001)).toBeUndefined();
    expect(lineTotal(1_000_000_000_001, 1)).toBeUndefined();
    expect(lineTotal(Number.MAX_SAFE_INTEGER, MAX_AMOUNT)).toBeUndefined();
  });
});
