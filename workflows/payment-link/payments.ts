/**
 * What a payment does to a link: pure rules, shared by the workflow and unit tests.
 * Every payment a provider reports is recorded; anomalies are flagged, never dropped.
 */
import { isTerminal, type LinkState, type LinkStatus, type PaymentReceived } from './contract';

export type PaymentFlag =
  /** Paid through a session a single-use link had replaced: the link may be paid twice. */
  | 'stale_session'
  | 'currency_mismatch'
  | 'late'
  | 'already_paid'
  | 'overpaid'
  | 'partial_not_allowed'
  | 'below_minimum'
  | 'amount_mismatch';

export interface PaymentDecision {
  /** rejected: the money cannot be applied to this link at all (wrong currency). */
  recordAs: 'succeeded' | 'rejected';
  flags: PaymentFlag[];
  /** The payment (or its excess) needs a person to decide on a refund. */
  refundReview: boolean;
  status: LinkStatus;
  amountPaid: number;
  paymentsCount: number;
}

type Ledger = Pick<LinkState, 'status' | 'amountPaid' | 'paymentsCount' | 'terms'>;

const REVIEW_FLAGS: readonly PaymentFlag[] = [
  'stale_session',
  'currency_mismatch',
  'late',
  'already_paid',
  'overpaid',
  'partial_not_allowed',
  'amount_mismatch',
];

function decision(
  link: Ledger,
  recordAs: PaymentDecision['recordAs'],
  flags: PaymentFlag[],
  next?: Partial<Pick<PaymentDecision, 'status' | 'amountPaid' | 'paymentsCount'>>,
): PaymentDecision {
  return {
    recordAs,
    flags,
    refundReview: flags.some((f) => REVIEW_FLAGS.includes(f)),
    status: next?.status ?? link.status,
    amountPaid: next?.amountPaid ?? link.amountPaid,
    paymentsCount: next?.paymentsCount ?? link.paymentsCount,
  };
}

export function decidePayment(link: Ledger, payment: PaymentReceived): PaymentDecision {
  const { terms } = link;
  if (payment.currency.toUpperCase() !== terms.currency)
    return decision(link, 'rejected', ['currency_mismatch']);
  if (isTerminal(link.status)) {
    const paidOut = link.status === 'paid' || link.status === 'completed';
    return decision(link, 'succeeded', [paidOut ? 'already_paid' : 'late']);
  }

  if (terms.maxPayments !== 1) {
    // A multi-use link sells the same thing many times: each payment is one use at the full amount.
    if (payment.amount !== terms.amount) return decision(link, 'succeeded', ['amount_mismatch']);
    const paymentsCount = link.paymentsCount + 1;
    const limitReached = terms.maxPayments !== null && paymentsCount >= terms.maxPayments;
    return decision(link, 'succeeded', [], {
      status: limitReached ? 'completed' : 'active',
      amountPaid: link.amountPaid + payment.amount,
      paymentsCount,
    });
  }

  const amountPaid = link.amountPaid + payment.amount;
  const flags: PaymentFlag[] = payment.staleSession ? ['stale_session'] : [];
  if (amountPaid > terms.amount) flags.push('overpaid');
  if (amountPaid < terms.amount) {
    if (!terms.acceptPartial) flags.push('partial_not_allowed');
    else if (terms.minPartialAmount !== null && payment.amount < terms.minPartialAmount)
      flags.push('below_minimum');
  }
  return decision(link, 'succeeded', flags, {
    status: amountPaid >= terms.amount ? 'paid' : 'partially_paid',
    amountPaid,
    paymentsCount: link.paymentsCount + 1,
  });
}
