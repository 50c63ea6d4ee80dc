/**
 * Recording payments against a link: one transaction that, with the invoice or order locked,
 * decides for each payment in order whether it is new (Postgres's provider payment id, unique per
 * account, not a list kept by the workflow), what it does to the link (the pure rules of payments.ts), whether
 * it collects a document twice, and writes the payments, the link's new figures, the document's
 * settlement and the timeline together. A payment that arrived after the link closed is put up
 * for refund review (its flags), and, when the account has `auto_refund_late_payments` on, its
 * refund is enqueued in the same transaction (src/payments/provider-outbox.ts).
 */
import { isTerminal, type LinkStatus, type PaymentReceived } from '../../workflows/payment-link/contract';
import {
  type OutboxItem,
  type PaymentAnnouncing,
  paymentItems,
} from '../../workflows/payment-link/outbox-items';
import {
  applyDecision,
  countsTowardsLink,
  decideClosedLinkPayment,
  decidePayment,
  type Ledger,
  type PaymentDecision,
  type PaymentFlag,
  paymentWrites,
  withDocumentFlags,
} from '../../workflows/payment-link/payments';
import { refundsLatePayments } from '../accounts/settings';
import {
  type DocumentBalance,
  documentFlags,
  linksLeftOpenBySettlement,
  lockDocumentOf,
  settleDocuments,
} from '../commerce/settlement';
import type { Db } from '../db/knex';
import { insertLinkEvents, type LinkEventInput, type LinkPatch, writeLinkPatch } from '../links/link-store';
import { enqueueOutbox } from '../outbox/outbox-store';
import { latePaymentRefundItem } from './provider-outbox';

export interface RecordPaymentsInput {
  linkId: string;
  accountId: string;
  /** The link as it was before these payments. */
  before: Ledger;
  /** In the order they arrived; each with a row id chosen before the first attempt, so a retry recognises its rows. */
  payments: { rowId: string; payment: PaymentReceived }[];
  /** When one of them closes the link. */
  now: string;
  /** The link's lifecycle is over: the payments are recorded and flagged, never applied. */
  linkClosed?: boolean;
  /**
   * Set by runs on the `outbox-deliveries` version: the webhooks (and the receipt) of the payments
   * recorded are enqueued in the same transaction, instead of sent by the workflow afterwards.
   */
  announce?: PaymentAnnouncing;
}

export type PaymentOutcome =
  /** Another row already holds this provider payment: nothing was written for it. */
  | { outcome: 'duplicate' }
  /** The link's decision with the document's flags added. */
  | { outcome: 'recorded'; decision: PaymentDecision };

export interface PaymentsRecorded {
  /** One per payment, in the same order. */
  results: PaymentOutcome[];
  /** Other open links of a document these payments settled: they have nothing left to collect. */
  linksToClose: string[];
}

const DOCUMENT_FLAGS: readonly PaymentFlag[] = ['over_collected'];

/** Taken after the link closed (expired, cancelled, or paid and completed already): not the link's money. */
const arrivedAfterClose = (d: PaymentDecision): boolean =>
  d.recordAs === 'succeeded' && d.flags.some((f) => f === 'late' || f === 'already_paid');
const json = (value: unknown) => JSON.stringify(value);

const SET_ASIDE: readonly PaymentFlag[] = ['late', 'already_paid'];

/**
 * The link the payments are decided against: `before`, as the run knows it, unless Postgres
 * already holds a close the run does not know of. A close is never taken back: in a run started
 * before `final-close`, a closing write whose workflow task Temporal refused (a payment arrived
 * during it) has committed, and the retried task records the payment first, still thinking the
 * link open. The payment is then decided against the close (late), as after the run's end, and
 * the run learns the link's status from the decision. A retry of an attempt that committed (its
 * rows are there) decides as that attempt did: against the close if the first of its payments was
 * set aside (late, already paid: never the decision for an open link), else against `before`.
 */
async function ledgerToDecideOn(
  tx: Db,
  input: RecordPaymentsInput,
  row: { status: LinkStatus; amount_paid: number; payments_count: number } | undefined,
): Promise<Ledger> {
  const { before } = input;
  if (!row || !isTerminal(row.status) || isTerminal(before.status)) return before;
  const closed = {
    ...before,
    status: row.status,
    amountPaid: row.amount_paid,
    paymentsCount: row.payments_count,
  };
  const committed: { id: string; flags: PaymentFlag[] }[] = await tx('payments')
    .where({ account_id: input.accountId, link_id: input.linkId })
    .whereIn(
      'id',
      input.payments.map((p) => p.rowId),
    )
    .select('id', 'flags');
  if (committed.length === 0) return closed;
  const first = input.payments.find((p) => committed.some((c) => c.id === p.rowId));
  const flags = committed.find((c) => c.id === first?.rowId)?.flags ?? [];
  return flags.some((f) => SET_ASIDE.includes(f)) ? closed : before;
}

export function createPaymentRecorder(db: Db) {
  return function recordPayments(input: RecordPaymentsInput): Promise<PaymentsRecorded> {
    const { linkId, accountId, now } = input;
    const decide = input.linkClosed ? decideClosedLinkPayment : decidePayment;
    return db.transaction(async (tx) => {
      // Locked before the document, in the order a closing write takes them (link, then document).
      const row = await tx('payment_links')
        .where({ id: linkId, account_id: accountId })
        .forUpdate()
        .first('status', 'amount_paid', 'payments_count');
      const document: DocumentBalance | undefined = await lockDocumentOf(tx, accountId, linkId);
      let ledger = await ledgerToDecideOn(tx, input, row);
      let patch: LinkPatch | undefined;
      const events: LinkEventInput[] = [];
      const results: PaymentOutcome[] = [];
      const outbox: OutboxItem[] = [];
      /** Payments that reached the link after it closed: refunded at once if the account says so. */
      const late: string[] = [];
      for (const { rowId, payment } of input.payments) {
        const own = decide(ledger, payment);
        const collected = countsTowardsLink(own) ? own.amountPaid - ledger.amountPaid : 0;
        let decision = withDocumentFlags(own, documentFlags(document, ledger.terms.currency, collected));
        const inserted = await tx('payments')
          .insert({
            id: rowId,
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
            // What a refund of it may take back from the link's invoice or order.
            amount_collected: collected,
          })
          // Unique per account: another account's record of the same id never blocks this one.
          .onConflict(['account_id', 'provider', 'provider_payment_id'])
          .ignore()
          .returning('id');
        if (inserted.length === 0) {
          const existing = await tx('payments')
            .where({
              account_id: accountId,
              provider: payment.provider,
              provider_payment_id: payment.paymentId,
            })
            .first('id', 'flags');
          if (existing?.id !== rowId) {
            results.push({ outcome: 'duplicate' });
            continue;
          }
          // Our own earlier attempt committed before its answer was lost: answer as it would have.
          decision = withDocumentFlags(
            own,
            (existing.flags as PaymentFlag[]).filter((f) => DOCUMENT_FLAGS.includes(f)),
          );
        }
        const closedAt = !isTerminal(ledger.status) && isTerminal(decision.status) ? now : null;
        const writes = paymentWrites(ledger, payment, decision, closedAt);
        if (writes.patch) patch = { ...patch, ...writes.patch };
        events.push(...writes.events);
        if (document && collected > 0) document.amountPaid += collected;
        results.push({ outcome: 'recorded', decision });
        if (arrivedAfterClose(decision)) late.push(rowId);
        if (input.announce) outbox.push(...paymentItems(input.announce, ledger, payment, decision, now));
        ledger = applyDecision(ledger, decision);
      }
      if (patch) {
        await writeLinkPatch(tx, accountId, linkId, patch);
        await settleDocuments(tx, accountId, linkId);
      }
      await insertLinkEvents(tx, accountId, linkId, events);
      await enqueueOutbox(tx, accountId, linkId, outbox);
      if (late.length > 0 && (await refundsLatePayments(tx, accountId)))
        await enqueueOutbox(tx, accountId, linkId, late.map(latePaymentRefundItem));
      return {
        results,
        linksToClose: document ? await linksLeftOpenBySettlement(tx, accountId, linkId) : [],
      };
    });
  };
}

export type RecordPayments = ReturnType<typeof createPaymentRecorder>;
