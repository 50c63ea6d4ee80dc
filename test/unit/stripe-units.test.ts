/**
 * ISO 4217 minor units ↔ Stripe's minor units, per class of Stripe's currency list
 * (https://docs.stripe.com/currencies): each class both ways, and what cannot be charged.
 */
import { describe, expect, it } from 'vitest';
import { currencyExponent } from '../../src/money/currencies';
import {
  fromStripeAmount,
  stripeAmountProblem,
  stripeUnits,
  toStripeAmount,
} from '../../src/payments/stripe-units';

const ZERO_DECIMAL = 'BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF'.split(' ');
const THREE_DECIMAL = 'BHD JOD KWD OMR TND'.split(' ');

describe('zero-decimal currencies', () => {
  it('are whole units at Stripe; where ISO agrees (JPY, KRW, …) nothing changes', () => {
    for (const code of ZERO_DECIMAL.filter((c) => c !== 'MGA')) {
      expect(currencyExponent(code), code).toBe(0);
      expect(stripeUnits(code).class, code).toBe('zero-decimal');
      expect(toStripeAmount(1999, code), code).toBe(1999);
      expect(fromStripeAmount(1999, code), code).toBe(1999);
    }
  });

  it('MGA has two decimals in ISO and none at Stripe: 100.00 MGA is 100; 100.50 MGA cannot be charged', () => {
    expect(currencyExponent('MGA')).toBe(2);
    expect(toStripeAmount(10000, 'MGA')).toBe(100);
    expect(toStripeAmount(100, 'mga')).toBe(1);
    expect(fromStripeAmount(100, 'mga')).toBe(10000);
    expect(stripeAmountProblem(10050, 'MGA')).toMatchObject({
      param: 'amount',
      message: 'must be a multiple of 100 (minor units): Stripe charges only whole MGA',
    });
    expect(() => toStripeAmount(10050, 'MGA')).toThrow(/multiple of 100/);
  });
});

describe('three-decimal currencies', () => {
  it("are ISO's units with a last digit of 0: 1.050 KWD is 1050, 1.055 KWD cannot be charged", () => {
    for (const code of THREE_DECIMAL) {
      expect(currencyExponent(code), code).toBe(3);
      expect(toStripeAmount(1050, code), code).toBe(1050);
      expect(fromStripeAmount(1050, code), code).toBe(1050);
      expect(stripeAmountProblem(1055, code), code).toMatchObject({
        param: 'amount',
        message: `must be a multiple of 10 (minor units): Stripe charges ${code} with a last digit of 0`,
      });
    }
  });
});

describe('special cases', () => {
  it('ISK and UGX are whole units sent with two decimals that are always 00: 5,000 ISK is 500000', () => {
    for (const code of ['ISK', 'UGX']) {
      expect(currencyExponent(code), code).toBe(0);
      expect(stripeUnits(code).class, code).toBe('whole-as-two-decimals');
      expect(toStripeAmount(5000, code), code).toBe(500000);
      expect(toStripeAmount(1, code), code).toBe(100);
      expect(fromStripeAmount(500000, code), code).toBe(5000);
      // A fraction Stripe says it never charges is refused, not rounded.
      expect(() => fromStripeAmount(500050, code), code).toThrow(/not a whole number/);
    }
  });

  it('HUF and TWD charge two decimals as ISO does (whole units are for payouts only)', () => {
    for (const code of ['HUF', 'TWD']) {
      expect(currencyExponent(code), code).toBe(2);
      expect(stripeUnits(code).class, code).toBe('two-decimal');
      expect(toStripeAmount(1045, code), code).toBe(1045);
      expect(fromStripeAmount(80045, code), code).toBe(80045);
    }
  });
});

describe('two-decimal currencies and the rest', () => {
  it('USD, EUR, GBP… are unchanged', () => {
    for (const code of ['USD', 'EUR', 'GBP', 'IDR', 'COP', 'BRL']) {
      expect(toStripeAmount(1999, code), code).toBe(1999);
      expect(fromStripeAmount(1999, code), code).toBe(1999);
    }
  });

  it('a currency Stripe does not charge in is refused naming currency', () => {
    for (const code of ['IQD', 'LYD', 'KPW', 'IRR']) {
      expect(currencyExponent(code), code).toBeDefined();
      expect(stripeAmountProblem(1000, code), code).toMatchObject({
        param: 'currency',
        message: `Stripe does not support ${code}: choose another currency`,
      });
      expect(() => fromStripeAmount(1000, code), code).toThrow(/does not support/);
    }
  });

  it('every amount Stripe can take comes back as it went', () => {
    for (const code of [...ZERO_DECIMAL, ...THREE_DECIMAL, 'ISK', 'UGX', 'HUF', 'TWD', 'USD']) {
      const iso = currencyExponent(code) as number;
      for (const amount of [10 ** iso, 25 * 10 ** iso, 999_999 * 10 ** iso]) {
        expect(fromStripeAmount(toStripeAmount(amount, code), code), `${code} ${amount}`).toBe(amount);
      }
    }
  });
});
