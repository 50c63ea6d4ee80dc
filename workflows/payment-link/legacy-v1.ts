/**
 * How runs that started before the `ledger-in-postgres` patch apply a payment, kept so they finish
 * on the commands they started with: the workflow de-duplicates by its own list of payment ids,
 * upserts the status, then records the payment with `recordChange`. Delete once no such run is
 * left (`LinkStatus` open and started before the patch shipped).
 */
import { type CancellationScope, upsertSearchAttributes, uuid4 } from '@temporalio/workflow';
import type { LinkChange } from '../../src/links/link-store';
import { isTerminal, type LinkState, type PaymentReceived, SearchAttributes } from './contract';
import { decidePayment, paymentAnnouncements, paymentWrites } from './payments';

export interface LegacyContext {
  state: LinkState;
  record(change: Omit<LinkChange, 'linkId' | 'accountId'>): Promise<void>;
  emit(type: string, key: string, extra?: Record<string, unknown>): void;
  sends: CancellationScope;
  sendClosingMessage(kind: 'receipt'): void;
  now(): number;
}

export async function applyPaymentV1(ctx: LegacyContext, payment: PaymentReceived): Promise<void> {
  const { state } = ctx;
  state.seenPaymentIds ??= [];
  if (state.seenPaymentIds.includes(payment.paymentId)) return; // redelivered: already counted
  state.seenPaymentIds.push(payment.paymentId);
  const before = { ...state };
  const decision = decidePayment(before, payment);
  const closing = !isTerminal(before.status) && isTerminal(decision.status);
  state.amountPaid = decision.amountPaid;
  state.paymentsCount = decision.paymentsCount;
  state.status = decision.status;
  if (closing) {
    state.closedAt = new Date(ctx.now()).toISOString();
    ctx.sends.cancel();
  }
  if (decision.status !== before.status) {
    upsertSearchAttributes([{ key: SearchAttributes.LinkStatus, value: decision.status }]);
  }
  const { patch, events } = paymentWrites(before, payment, decision, state.closedAt);
  await ctx.record({
    patch,
    payment: {
      id: `pay_${uuid4().replaceAll('-', '')}`,
      provider: payment.provider,
      providerPaymentId: payment.paymentId,
      amount: payment.amount,
      currency: payment.currency.toUpperCase(),
      status: decision.recordAs,
      flags: decision.flags,
      refundReview: decision.refundReview,
      sessionId: payment.sessionId ?? null,
      paymentProfileId: payment.paymentProfileId ?? null,
    },
    events,
  });
  if (closing && decision.status === 'paid' && state.terms.maxPayments === 1)
    ctx.sendClosingMessage('receipt');
  for (const a of paymentAnnouncements(before, payment, decision)) ctx.emit(a.type, a.key, a.extra);
}
