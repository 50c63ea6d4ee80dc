import { describe, expect, it } from 'vitest';
import type { LinkTerms } from '../../workflows/payment-link/contract';
import { decidePayment } from '../../workflows/payment-link/payments';

const terms = { amount: 2000, currency: 'USD', maxPayments: 1, acceptPartial: true, minPartialAmount: null };
const link = (over: Partial<LinkTerms> = {}) => ({
  status: 'active' as const,
  amountPaid: 0,
  paymentsCount: 0,
  terms: { ...terms, ...over } as LinkTerms,
});
const pay = (staleSession?: boolean) => ({
  provider: 'sandbox',
  paymentId: 'p1',
  amount: 500,
  currency: 'USD',
  ...(staleSession === undefined ? {} : { staleSession }),
});

describe('a payment through a stale session', () => {
  it('is applied and flagged for refund review on a single-use link', () => {
    expect(decidePayment(link(), pay(true))).toMatchObject({
      recordAs: 'succeeded',
      flags: ['stale_session'],
      refundReview: true,
      status: 'partially_paid',
      amountPaid: 500,
    });
  });

  it('is not flagged when the session was the link’s own', () => {
    expect(decidePayment(link(), pay(false))).toMatchObject({ flags: [], refundReview: false });
    expect(decidePayment(link(), pay())).toMatchObject({ flags: [], refundReview: false });
  });

  it('means nothing on a multi-use link, where many sessions are open at once', () => {
    const d = decidePayment(link({ maxPayments: null, acceptPartial: false, amount: 500 }), pay(true));
    expect(d).toMatchObject({ flags: [], refundReview: false, paymentsCount: 1 });
  });
});
