/**
 * Work a link's transition leaves for the payment provider, as rows of the transactional outbox:
 * written by the transaction that decides it (a close expires its open provider checkouts; a
 * payment that arrived after the close is refunded when the account asks for it), carried out by
 * the worker's outbox drainer and retried there like a webhook, so a provider that is away when a
 * link closes is asked again until it answers.
 */
import { ApiError } from '../api/errors';
import type { ProviderDirectory } from './provider-directory';
import type { Refunds } from './refunds';

export interface CheckoutExpiry {
  provider: string;
  session_id: string;
  /** The provider's own id of the checkout (a Stripe Checkout Session id). */
  provider_session_id: string;
}

export interface LatePaymentRefund {
  payment_id: string;
  /** Chosen when the item is written: the refund's id, and the provider's idempotency key. */
  refund_id: string;
}

export type ProviderOutboxItem =
  | { kind: 'checkout_expire'; key: string; payload: CheckoutExpiry }
  | { kind: 'refund'; key: string; payload: LatePaymentRefund };

export const checkoutExpiryItem = (expiry: CheckoutExpiry): ProviderOutboxItem => ({
  kind: 'checkout_expire',
  key: `checkout_expire:${expiry.session_id}`,
  payload: expiry,
});

/** One automatic refund per payment, whoever writes it and however often. */
export const latePaymentRefundItem = (paymentId: string): ProviderOutboxItem => ({
  kind: 'refund',
  key: `refund:${paymentId}`,
  payload: { payment_id: paymentId, refund_id: `re_late_${paymentId}` },
});

/** How an attempt ended, in the outbox's terms: done, never again, or (thrown) try again later. */
export type ProviderWorkOutcome = { done: string } | { giveUp: string; error: string };

export interface ProviderWork {
  run(item: ProviderOutboxItem, accountId: string): Promise<ProviderWorkOutcome>;
}

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode;

export function createProviderWork(deps: { providers: ProviderDirectory; refunds: Refunds }): ProviderWork {
  const { providers, refunds } = deps;

  async function expire(expiry: CheckoutExpiry, accountId: string): Promise<ProviderWorkOutcome> {
    const provider = await providers.byName(accountId, expiry.provider);
    if (!provider?.expireCheckout)
      return { giveUp: 'provider_unavailable', error: `the account no longer reaches ${expiry.provider}` };
    try {
      await provider.expireCheckout(expiry.provider_session_id);
      return { done: 'expired' };
    } catch (err) {
      const status = statusOf(err);
      // Completed or expired already: nothing is left to close (a payment that got through is
      // recorded as late by its callback).
      if (status === 400 || status === 404) return { done: 'not_expirable' };
      // Refused for good (keys revoked): an operator looks at it; anything else is tried again.
      if (status !== undefined && status >= 401 && status < 500 && status !== 409 && status !== 429)
        return { giveUp: 'refused', error: (err as Error).message.slice(0, 500) };
      throw err;
    }
  }

  async function refund(item: LatePaymentRefund, accountId: string): Promise<ProviderWorkOutcome> {
    try {
      const row = await refunds.refund(accountId, item.payment_id, undefined, item.refund_id);
      if (row.status === 'failed')
        return { giveUp: 'refund_failed', error: row.failure_reason ?? 'the provider refused it' };
      return { done: row.status === 'succeeded' ? 'refunded' : 'refund_pending' };
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      // Refunded in full already (by hand): what was asked is done.
      if (err.code === 'refund_exceeds_payment') return { done: 'already_refunded' };
      // Not refundable here (no provider, refused): the payment stays up for refund review.
      return { giveUp: err.code, error: err.message };
    }
  }

  return {
    run(item, accountId) {
      return item.kind === 'checkout_expire'
        ? expire(item.payload, accountId)
        : refund(item.payload, accountId);
    },
  };
}
