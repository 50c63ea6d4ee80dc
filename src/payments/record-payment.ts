/**
 * Recording a payment against a link: one transaction that decides, with the invoice or order
 * locked, whether the payment is new (Postgres's unique provider payment id, not a list kept by
 * the workflow), whether it collects a document twice, and writes the payment, the link's new
 * figures, the document's settlement and the timeline together.
 */
import type { PaymentReceived } from '../../workflows/payment-link/contract';
import {
  countsTowardsLink,
  type Ledger,
  type PaymentDecision,
  paymentWrites,
  withDocumentFlags,
} from '../../workflows/payment-link/payments';
import {
  documentFlags,
  linksLeftOpenBySettlement,
  lockDocumentOf,
  settleDocuments,
} from '../commerce/settlement';
import type { Db } from '../db/knex';
import { insertLinkEvents, patchColumns } from '../links/link-store';

export interface RecordPaymentInput {
  linkId: string;
  accountId: string;
  /** Chosen by the caller before the first attempt, so a retry recognises its own row. */
  paymentRowId: string;
  payment: PaymentReceived;
  /** The link as it was before the payment. */
  before: Ledger;
  /** What the link's own rules decided (decidePayment). */
  decision: PaymentDecision;
  /** When the payment closes the link. */
  closedAt: string | null;
}

export type PaymentRecorded =
  /** Another row already holds this provider payment: nothing was written. */
  | { outcome: 'duplicate' }
  | {
      outcome: 'recorded';
      /** The link's decision with the document's flags added. */
      decision: PaymentDecision;
      /** Other open links of a document this payment settled: they have nothing left to collect. */
      linksToClose: string[];
    };

const json = (value: unknown) => JSON.stringify(value);

export function createPaymentRecorder(db: Db) {
  return async function recordPayment(input: RecordPaymentInput): Promise<PaymentRecorded> {
    const { linkId, accountId, payment, before } = input;
    return db.transaction(async (tx) => {
      const document = await lockDocumentOf(tx, accountId, linkId);
      const collected = countsTowardsLink(input.decision) ? input.decision.amountPaid - before.amountPaid : 0;
      const decision = withDocumentFlags(
        input.decision,
        documentFlags(document, before.terms.currency, collected),
      );
      const inserted = await tx('payments')
        .insert({
          id: input.paymentRowId,
          account_id: accountId,
          link_id: linkId,
          provider: payment.provider,
          provider_payment_id: payment.paymentId,
          amount: payment.amount,
          currency: payment.currency.toUpperCase(),
          status: decision.recordAs,
          flags: json(decision.flags),
          refund_review: decision.refundReview,
          session_id: payment.sessionId ?? null,
          payment_profile_id: payment.paymentProfileId ?? null,
        })
        .onConflict(['provider', 'provider_payment_id'])
        .ignore()
        .returning('id');
      if (inserted.length === 0) {
        const existing = await tx('payments')
          .where({ provider: payment.provider, provider_payment_id: payment.paymentId })
          .first('id', 'flags', 'refund_review');
        if (existing?.id !== input.paymentRowId) return { outcome: 'duplicate' };
        // Our own earlier attempt committed before its answer was lost: answer as it would have.
        return {
          outcome: 'recorded',
          decision: { ...input.decision, flags: existing.flags, refundReview: existing.refund_review },
          linksToClose: await linksLeftOpenBySettlement(tx, accountId, linkId),
        };
      }
      const { patch, events } = paymentWrites(before, payment, decision, input.closedAt);
      if (patch) {
        await tx('payment_links')
          .where({ id: linkId, account_id: accountId })
          .update({ ...patchColumns(patch), updated_at: tx.fn.now() });
        await settleDocuments(tx, accountId, linkId);
      }
      await insertLinkEvents(tx, accountId, linkId, events);
      return {
        outcome: 'recorded',
        decision,
        linksToClose: document ? await linksLeftOpenBySettlement(tx, accountId, linkId) : [],
      };
    });
  };
}

export type RecordPayment = ReturnType<typeof createPaymentRecorder>;
