import { describe, expect, it } from 'vitest';
import type { LinkState, LinkTerms } from '../../workflows/payment-link/contract';
import { decidePayment } from '../../workflows/payment-link/payments';

const terms = (over: Partial<LinkTerms> = {}): LinkTerms => ({
  id: 'plink_x',
  accountId: 'acct_x',
  token: 't',
  amount: 2000,
  currency: 'USD',
  description: null,
  lineItems: [],
  reference: null,
  customer: null,
  customerId: null,
  createdAt: '2026-06-01T00:00:00.000Z',
  expiresAt: '2026-07-01T00:00:00.000Z',
  maxPayments: 1,
  acceptPartial: false,
  minPartialAmount: null,
  channels: [],
  reminders: { afterCreated: [], beforeExpiry: [] },
  quietHours: null,
  timezone: 'UTC',
  invoiceId: null,
  orderId: null,
  campaignId: null,
  metadata: {},
  successUrl: null,
  notifyOnExpiry: false,
  ...over,
});

const link = (over: Partial<LinkState> = {}, t: Partial<LinkTerms> = {}) => ({
  status: 'active' as const,
  amountPaid: 0,
  paymentsCount: 0,
  ...over,
  terms: terms(t),
});

const pay = (amount: number, currency = 'USD') => ({
  provider: 'sandbox',
  paymentId: 'p1',
  amount,
  currency,
});

describe('decidePayment', () => {
  it('pays a single-use link in one go', () => {
    expect(decidePayment(link(), pay(2000))).toEqual({
      recordAs: 'succeeded',
      flags: [],
      refundReview: false,
      status: 'paid',
      amountPaid: 2000,
      paymentsCount: 1,
    });
  });

  it('accumulates partial payments until the amount', () => {
    const first = decidePayment(link({}, { acceptPartial: true }), pay(500));
    expect(first).toMatchObject({ status: 'partially_paid', amountPaid: 500, flags: [] });
    const second = decidePayment(
      link({ status: 'partially_paid', amountPaid: 500, paymentsCount: 1 }, { acceptPartial: true }),
      pay(1500),
    );
    expect(second).toMatchObject({ status: 'paid', amountPaid: 2000, paymentsCount: 2, flags: [] });
  });

  it('flags a partial payment below the minimum without losing it', () => {
    const d = decidePayment(link({}, { acceptPartial: true, minPartialAmount: 1000 }), pay(300));
    expect(d).toMatchObject({
      status: 'partially_paid',
      amountPaid: 300,
      flags: ['below_minimum'],
      refundReview: false,
    });
  });

  it('records a short payment on a link without partial payments, flagged for review', () => {
    const d = decidePayment(link(), pay(1000));
    expect(d).toMatchObject({
      status: 'partially_paid',
      amountPaid: 1000,
      flags: ['partial_not_allowed'],
      refundReview: true,
    });
  });

  it('records an overpayment as paid and flags the excess', () => {
    expect(decidePayment(link(), pay(2500))).toMatchObject({
      status: 'paid',
      amountPaid: 2500,
      flags: ['overpaid'],
      refundReview: true,
    });
  });

  it('rejects a payment in another currency and leaves the link as it was', () => {
    expect(decidePayment(link(), pay(2000, 'EUR'))).toEqual({
      recordAs: 'rejected',
      flags: ['currency_mismatch'],
      refundReview: true,
      status: 'active',
      amountPaid: 0,
      paymentsCount: 0,
    });
  });

  it('flags payments on a closed link: late after expiry or cancel, already paid after paid', () => {
    for (const status of ['expired', 'cancelled'] as const) {
      expect(decidePayment(link({ status }), pay(2000))).toMatchObject({
        status,
        flags: ['late'],
        refundReview: true,
        amountPaid: 0,
      });
    }
    expect(
      decidePayment(link({ status: 'paid', amountPaid: 2000, paymentsCount: 1 }), pay(2000)),
    ).toMatchObject({
      status: 'paid',
      flags: ['already_paid'],
      amountPaid: 2000,
      paymentsCount: 1,
    });
  });

  it('counts uses of a multi-use link and completes it at its limit', () => {
    const two = decidePayment(link({ paymentsCount: 1, amountPaid: 2000 }, { maxPayments: 3 }), pay(2000));
    expect(two).toMatchObject({ status: 'active', paymentsCount: 2, amountPaid: 4000 });
    const three = decidePayment(link({ paymentsCount: 2, amountPaid: 4000 }, { maxPayments: 3 }), pay(2000));
    expect(three).toMatchObject({ status: 'completed', paymentsCount: 3, amountPaid: 6000 });
  });

  it('never completes an unlimited link, and flags a use paid at the wrong amount', () => {
    expect(decidePayment(link({ paymentsCount: 99 }, { maxPayments: null }), pay(2000))).toMatchObject({
      status: 'active',
      paymentsCount: 100,
    });
    expect(decidePayment(link({}, { maxPayments: null }), pay(1999))).toMatchObject({
      status: 'active',
      paymentsCount: 0,
      flags: ['amount_mismatch'],
      refundReview: true,
    });
  });
});
