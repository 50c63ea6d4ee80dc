/**
 * What a payment does to a link: pure rules, shared by the workflow, the activity that records
 * it, the callback path for closed links, and unit tests. Every payment a provider reports is
 * recorded; anomalies are flagged, never dropped.
 */
import type { LinkEventInput, LinkPatch } from '../../src/links/link-store';
import {
  EventTypes,
  isTerminal,
  type LinkState,
  type LinkStatus,
  type PaymentReceived,
  STATUS_EVENTS,
} from './contract';

export type PaymentFlag =
  /** Paid through a session a single-use link had replaced: the link may be paid twice. */
  | 'stale_session'
  | 'currency_mismatch'
  | 'late'
  | 'already_paid'
  | 'overpaid'
  | 'partial_not_allowed'
  | 'below_minimum'
  | 'amount_mismatch'
  /** The invoice or order was already settled, or this payment takes it past its amount due. */
  | 'over_collected';

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

export type Ledger = Pick<LinkState, 'status' | 'amountPaid' | 'paymentsCount'> & {
  terms: Pick<
    LinkState['terms'],
    'amount' | 'currency' | 'maxPayments' | 'acceptPartial' | 'minPartialAmount'
  >;
};

const REVIEW_FLAGS: readonly PaymentFlag[] = [
  'stale_session',
  'currency_mismatch',
  'late',
  'already_paid',
  'overpaid',
  'partial_not_allowed',
  'amount_mismatch',
  'over_collected',
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

/** A payment that reaches a link whose workflow has finished: recorded, flagged, never applied. */
export function decideClosedLinkPayment(link: Ledger, payment: PaymentReceived): PaymentDecision {
  // A workflow that ended while its row still says open is as closed as an expired link; the
  // link's own status is left as it is.
  const decision = decidePayment(isTerminal(link.status) ? link : { ...link, status: 'expired' }, payment);
  return { ...decision, status: link.status };
}

/** Whether the payment adds to what the link collected (rather than being set aside). */
export const countsTowardsLink = (d: Pick<PaymentDecision, 'recordAs' | 'flags'>): boolean =>
  d.recordAs === 'succeeded' && !d.flags.some((f) => f === 'late' || f === 'already_paid');

/** The decision once the invoice or order it collects for has had its say. */
export function withDocumentFlags(
  d: PaymentDecision,
  documentFlags: readonly PaymentFlag[],
): PaymentDecision {
  const flags = [...d.flags, ...documentFlags.filter((f) => !d.flags.includes(f))];
  return { ...d, flags, refundReview: flags.some((f) => REVIEW_FLAGS.includes(f)) };
}

/** The figures a link moves to once its payment is recorded. */
export function applyDecision<L extends Ledger>(ledger: L, d: PaymentDecision): L {
  return { ...ledger, status: d.status, amountPaid: d.amountPaid, paymentsCount: d.paymentsCount };
}

/** What recording a payment writes besides the payment row: the link's new figures and the timeline. */
export function paymentWrites(
  before: Ledger,
  payment: PaymentReceived,
  d: PaymentDecision,
  closedAt: string | null,
): { patch: LinkPatch | undefined; events: LinkEventInput[] } {
  const events: LinkEventInput[] = [
    {
      key: `payment:${payment.provider}:${payment.paymentId}`,
      type:
        d.recordAs === 'rejected'
          ? EventTypes.paymentRejected
          : d.flags.length > 0
            ? EventTypes.paymentFlagged
            : EventTypes.paymentSucceeded,
      data: {
        payment_id: payment.paymentId,
        provider: payment.provider,
        amount: payment.amount,
        currency: payment.currency,
        ...(d.flags.length > 0 ? { flags: d.flags, refund_review: d.refundReview } : {}),
      },
    },
  ];
  if (d.status === 'partially_paid') {
    events.push({
      key: `partially_paid:${payment.paymentId}`,
      type: EventTypes.partiallyPaid,
      data: { amount_paid: d.amountPaid, amount_remaining: before.terms.amount - d.amountPaid },
    });
  } else if (d.status !== before.status) {
    events.push({
      key: `status:${d.status}`,
      type: STATUS_EVENTS[d.status],
      data: { amount_paid: d.amountPaid, payments_count: d.paymentsCount },
    });
  }
  const changed =
    d.status !== before.status ||
    d.amountPaid !== before.amountPaid ||
    d.paymentsCount !== before.paymentsCount;
  const closing = !isTerminal(before.status) && isTerminal(d.status);
  const patch = changed
    ? {
        status: d.status,
        amountPaid: d.amountPaid,
        paymentsCount: d.paymentsCount,
        ...(closing && closedAt ? { closedAt } : {}),
      }
    : undefined;
  return { patch, events };
}

export interface Announcement {
  type: string;
  /** Unique per link and event: the webhook's id, stable across retries. */
  key: string;
  extra: Record<string, unknown>;
}

/**
 * The webhooks a recorded payment sends. A payment that needs a person (over, under, late, wrong
 * currency, a document already settled…) is announced as `payment.flagged`, never as a plain
 * success a merchant would fulfil on.
 */
export function paymentAnnouncements(
  before: Ledger,
  payment: PaymentReceived,
  d: PaymentDecision,
): Announcement[] {
  const key = `payment:${payment.provider}:${payment.paymentId}`;
  const announcements: Announcement[] = [
    {
      type: d.refundReview || d.recordAs === 'rejected' ? 'payment.flagged' : 'payment.succeeded',
      key,
      extra: {
        payment: {
          provider: payment.provider,
          payment_id: payment.paymentId,
          amount: payment.amount,
          currency: payment.currency,
          flags: d.flags,
          refund_review: d.refundReview,
        },
      },
    },
  ];
  if (d.status === 'partially_paid' && countsTowardsLink(d))
    announcements.push({
      type: 'payment_link.partially_paid',
      key: `partially_paid:${payment.paymentId}`,
      extra: {},
    });
  else if (d.status !== before.status)
    announcements.push({ type: `payment_link.${d.status}`, key: `status:${d.status}`, extra: {} });
  return announcements;
}
