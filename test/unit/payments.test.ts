import { describe, expect, it } from 'vitest';
import { documentFlags } from '../../src/commerce/settlement';
import type { LinkState, LinkTerms, PaymentReceived } from '../../workflows/payment-link/contract';
import {
  applyDecision,
  decideClosedLinkPayment,
  decidePayment,
  paymentAnnouncements,
  paymentWrites,
  withDocumentFlags,
} from '../../workflows/payment-link/payments';

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

const received = (paymentId: string, amount: number): PaymentReceived => ({
  provider: 'sandbox',
  paymentId,
  amount,
  currency: 'USD',
});

describe('the state a link keeps', () => {
  it('stays the same size through 50,000 payments of a multi-use link: nothing grows with them', () => {
    let state: LinkState = {
      ...link({}, { maxPayments: null, amount: 500, metadata: { campaign: 'spring' } }),
      reminderCursor: '2026-06-01T00:00:00.000Z',
      closedAt: null,
    };
    const size = () => JSON.stringify(state).length;
    const sizes: number[] = [];
    for (let n = 1; n <= 50_000; n++) {
      state = applyDecision(state, decidePayment(state, received(`pi_${n}`, 500)));
      if (n === 1 || n === 50_000) sizes.push(size());
    }
    expect(state).toMatchObject({ status: 'active', paymentsCount: 50_000, amountPaid: 25_000_000 });
    const [first = 0, last = 0] = sizes;
    expect(last).toBeLessThan(2048);
    expect(last - first).toBeLessThanOrEqual(10); // the counters' digits, nothing else
  });
});

describe('payments against a document', () => {
  const invoice = {
    kind: 'invoice' as const,
    id: 'inv_1',
    currency: 'USD',
    amountDue: 5000,
    amountPaid: 0,
    paid: false,
  };

  it('an invoice collected past its amount due is over-collected; up to it is not', () => {
    expect(documentFlags(invoice, 'USD', 5000)).toEqual([]);
    expect(documentFlags({ ...invoice, amountPaid: 3000 }, 'USD', 2000)).toEqual([]);
    expect(documentFlags({ ...invoice, amountPaid: 3000 }, 'USD', 2001)).toEqual(['over_collected']);
    expect(documentFlags({ ...invoice, amountPaid: 5000, paid: true }, 'USD', 1)).toEqual(['over_collected']);
  });

  it('money that does not count towards the document, or another currency, flags nothing', () => {
    expect(documentFlags({ ...invoice, amountPaid: 5000, paid: true }, 'USD', 0)).toEqual([]);
    expect(documentFlags({ ...invoice, amountPaid: 5000, paid: true }, 'EUR', 900)).toEqual([]);
    expect(documentFlags(undefined, 'USD', 900)).toEqual([]);
  });

  it('an order is over-collected by what takes it past its amount, as an invoice is', () => {
    const order = {
      kind: 'order' as const,
      id: 'ord_1',
      currency: 'USD',
      amountDue: 1200,
      amountPaid: 0,
      paid: false,
    };
    expect(documentFlags(order, 'USD', 1200)).toEqual([]);
    expect(documentFlags({ ...order, amountPaid: 1200, paid: true }, 'USD', 1200)).toEqual([
      'over_collected',
    ]);
    // Partly paid, it follows what it collected as an invoice does.
    expect(documentFlags({ ...order, amountPaid: 1000 }, 'USD', 200)).toEqual([]);
    expect(documentFlags({ ...order, amountPaid: 1000 }, 'USD', 201)).toEqual(['over_collected']);
  });

  it('an over-collected payment needs a refund review and is announced as payment.flagged, not a success', () => {
    const before = link({}, { amount: 5000 });
    const decision = withDocumentFlags(decidePayment(before, received('pi_1', 5000)), ['over_collected']);
    expect(decision).toMatchObject({ status: 'paid', flags: ['over_collected'], refundReview: true });
    expect(paymentAnnouncements(before, received('pi_1', 5000), decision).map((a) => a.type)).toEqual([
      'payment.flagged',
      'payment_link.paid',
    ]);
    const { events, patch } = paymentWrites(
      before,
      received('pi_1', 5000),
      decision,
      '2026-06-02T00:00:00.000Z',
    );
    expect(events.map((e) => e.type)).toEqual(['payment.flagged', 'payment_link.paid']);
    expect(patch).toEqual({
      status: 'paid',
      amountPaid: 5000,
      paymentsCount: 1,
      closedAt: '2026-06-02T00:00:00.000Z',
    });
  });

  it('a payment for a finished link is late (or already paid), flagged, and changes nothing', () => {
    const open = link({ status: 'active' });
    expect(decideClosedLinkPayment(open, received('pi_2', 2000))).toMatchObject({
      flags: ['late'],
      refundReview: true,
      status: 'active',
      amountPaid: 0,
    });
    const paid = link({ status: 'paid', amountPaid: 2000, paymentsCount: 1 });
    const decision = decideClosedLinkPayment(paid, received('pi_3', 2000));
    expect(decision).toMatchObject({ flags: ['already_paid'], status: 'paid', amountPaid: 2000 });
    expect(paymentWrites(paid, received('pi_3', 2000), decision, null).patch).toBeUndefined();
    expect(paymentAnnouncements(paid, received('pi_3', 2000), decision).map((a) => a.type)).toEqual([
      'payment.flagged',
    ]);
  });
});
