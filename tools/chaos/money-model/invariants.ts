/**
 * The money invariants of issue 21, checked from Postgres (one consistent snapshot) once an
 * interleaving has settled, plus what the run itself saw happen in order. Each broken one is a
 * line naming the invariant, the link and the payments.
 *
 * Words used:
 * - a capture is a payment the sandbox took: a `payment.succeeded` callback it sent (stored in
 *   provider_events), whatever Paylinks made of it; its time is when the callback was first stored;
 * - a payment is flagged when it was put up for review: it carries a flag other than
 *   `below_minimum` (the rules' one informational flag), or `refund_review` is set (a refund
 *   clears `refund_review`, not the flags, so a reviewed and refunded payment stays flagged);
 * - flagged late: its flags name `late` and it was put up for refund review (still, or refunded).
 */
import type { Target } from '../target';
import { storedCallbacks } from './callbacks';
import type { RunRecord } from './execute';

interface LinkRow {
  id: string;
  status: string;
  amount: number;
  max_payments: number | null;
  accept_partial: boolean;
  closed_at: Date | null;
  invoice_id: string | null;
  order_id: string | null;
}

interface PaymentRow {
  id: string;
  link_id: string;
  provider_payment_id: string;
  amount: number;
  amount_refunded: number;
  status: string;
  flags: string[];
  refund_review: boolean;
  session_id: string | null;
}

interface Capture {
  paymentId: string;
  sessionId: string;
  linkId: string;
  amount: number;
  at: Date;
}

const INFORMATIONAL_FLAGS = new Set(['below_minimum']);
/** What a payment that reached a closed link is flagged as (workflows/payment-link/payments.ts). */
const LATE_FLAGS = new Set(['late']);

const isFlagged = (p: PaymentRow): boolean =>
  p.refund_review || p.flags.some((f) => !INFORMATIONAL_FLAGS.has(f));
const flaggedLate = (p: PaymentRow): boolean =>
  p.flags.some((f) => LATE_FLAGS.has(f)) && (p.refund_review || p.amount_refunded > 0);
const counted = (p: PaymentRow) => p.status === 'succeeded' && !isFlagged(p);
const describePayment = (p: PaymentRow) =>
  `${p.provider_payment_id} ${p.amount}${p.amount_refunded ? ` (refunded ${p.amount_refunded})` : ''} [${p.flags.join(',')}]${p.refund_review ? ' review' : ''}`;

export async function checkInvariants(target: Target, record: RunRecord): Promise<string[]> {
  const { db, accountId } = target;
  const violations: string[] = [];
  const label = (id: string) => {
    const i = record.links.findIndex((l) => l.id === id);
    return i >= 0 ? `L${i} ${id}` : id;
  };

  // ---- what the run itself saw: answers, commands that could not finish ----
  for (const e of record.serverErrors) violations.push(`every request is answered below 500: ${e}`);
  for (const e of record.commandFailures) violations.push(`every command completes: ${e}`);
  const ids = record.links.map((l) => l.id);
  if (ids.length === 0) return violations;

  await db.transaction(
    async (tx) => {
      const runLinks: LinkRow[] = await tx('payment_links')
        .where({ account_id: accountId })
        .whereIn('id', ids);
      const invoiceIds = [...new Set(runLinks.map((l) => l.invoice_id).filter((x): x is string => !!x))];
      const orderIds = [...new Set(runLinks.map((l) => l.order_id).filter((x): x is string => !!x))];
      // Every link of the run's documents, whether the run knew of it or not.
      const documentLinks: LinkRow[] =
        invoiceIds.length + orderIds.length === 0
          ? []
          : await tx('payment_links')
              .where({ account_id: accountId })
              .where((q) => q.whereIn('invoice_id', invoiceIds).orWhereIn('order_id', orderIds));
      const links = new Map<string, LinkRow>();
      for (const l of [...runLinks, ...documentLinks]) links.set(l.id, { ...l, amount: Number(l.amount) });
      const linkIds = [...links.keys()];

      const sessions: { id: string; link_id: string }[] = await tx('payment_sessions')
        .where({ account_id: accountId })
        .whereIn('link_id', linkIds)
        .select('id', 'link_id');
      const sessionLink = new Map(sessions.map((s) => [s.id, s.link_id]));
      const events = (
        await storedCallbacks(
          tx,
          accountId,
          sessions.map((s) => s.id),
        )
      ).filter((e) => e.event.type === 'payment.succeeded');
      const captures = new Map<string, Capture>();
      for (const e of events) {
        const paymentId = String(e.event.data.payment_id);
        const sessionId = String(e.event.data.session_id);
        const known = captures.get(paymentId);
        if (known && known.at <= e.receivedAt) continue;
        captures.set(paymentId, {
          paymentId,
          sessionId,
          linkId: sessionLink.get(sessionId) as string,
          amount: Number(e.event.data.amount),
          at: e.receivedAt,
        });
      }

      // ---- nothing captured through a checkout submitted once the link was seen closed ----
      const capturedSessions = new Set([...captures.values()].map((c) => c.sessionId));
      for (const link of record.links) {
        if (!link.seenClosed) continue;
        for (const s of record.submits) {
          if (s.linkId !== link.id || !s.captured || s.step <= link.seenClosed.afterStep) continue;
          if (!capturedSessions.has(s.sessionId)) continue;
          violations.push(
            `nothing is captured after the link closed: ${label(link.id)} was ${link.seenClosed.status} after step ${link.seenClosed.afterStep + 1}, and its checkout ${s.sessionId} submitted in step ${s.step + 1} was captured (${s.status})`,
          );
        }
      }

      const paymentRows: PaymentRow[] = await tx('payments')
        .where({ account_id: accountId })
        .where((q) => {
          q.whereIn('link_id', linkIds);
          if (captures.size > 0)
            q.orWhere((p) =>
              p.where({ provider: 'sandbox' }).whereIn('provider_payment_id', [...captures.keys()]),
            );
        });
      const payments = paymentRows.map((p) => ({
        ...p,
        amount: Number(p.amount),
        amount_refunded: Number(p.amount_refunded),
      }));
      const paymentsOf = (linkId: string) => payments.filter((p) => p.link_id === linkId);
      const paymentFor = (c: Capture) => payments.filter((p) => p.provider_payment_id === c.paymentId);
      const capturesOf = (linkId: string) => [...captures.values()].filter((c) => c.linkId === linkId);

      // ---- each provider payment recorded once ----
      for (const c of captures.values()) {
        const rows = paymentFor(c);
        if (rows.length !== 1)
          violations.push(
            `each provider payment is recorded once: capture ${c.paymentId} (${c.amount}, ${label(c.linkId)}) has ${rows.length} payment rows`,
          );
        for (const p of rows)
          if (p.link_id !== c.linkId || p.amount !== c.amount)
            violations.push(
              `each provider payment is recorded once: capture ${c.paymentId} of ${c.amount} on ${label(c.linkId)} is recorded as ${p.amount} on ${label(p.link_id)}`,
            );
      }
      for (const p of payments)
        if (!captures.has(p.provider_payment_id))
          violations.push(
            `each provider payment is recorded once: payment ${p.id} (${describePayment(p)}) on ${label(p.link_id)} matches no capture`,
          );

      for (const link of links.values()) {
        const own = paymentsOf(link.id);
        const taken = capturesOf(link.id);
        const name = label(link.id);

        // ---- nothing captured after the close unless flagged late for refund review ----
        if (link.closed_at) {
          for (const c of taken) {
            if (c.at <= link.closed_at) continue;
            const p = paymentFor(c)[0];
            if (p && flaggedLate(p)) continue;
            violations.push(
              `nothing is captured after the link closed: ${name} closed (${link.status}) at ${link.closed_at.toISOString()}, capture ${c.paymentId} came at ${c.at.toISOString()} and is ${p ? describePayment(p) : 'not recorded'}, not flagged late for refund review`,
            );
          }
        }

        // ---- unflagged collected ≤ owed ----
        const owed = link.max_payments === null ? undefined : link.amount * link.max_payments;
        const collected = own.filter(counted).reduce((sum, p) => sum + p.amount, 0);
        if (owed !== undefined && collected > owed)
          violations.push(
            `unflagged collected ≤ owed: ${name} owes ${owed} and collected ${collected} unflagged: ${own.filter(counted).map(describePayment).join('; ')}`,
          );

        // ---- uses ≤ limit: every capture counts, flagged or not ----
        if (link.accept_partial) {
          const total = taken.reduce((sum, c) => sum + c.amount, 0);
          if (total > link.amount)
            violations.push(
              `uses ≤ limit: partial ${name} of ${link.amount} had ${total} captured: ${taken.map((c) => `${c.paymentId} ${c.amount}`).join('; ')}`,
            );
        } else if (link.max_payments !== null && taken.length > link.max_payments) {
          violations.push(
            `uses ≤ limit: ${name} (max_payments ${link.max_payments}) was captured ${taken.length} times: ${taken
              .map((c) => {
                const p = paymentFor(c)[0];
                return p ? describePayment(p) : `${c.paymentId} ${c.amount} (not recorded)`;
              })
              .join('; ')}`,
          );
        }
      }

      // ---- a close stays closed ----
      for (const l of record.links) {
        const row = links.get(l.id);
        if (l.seenClosed && row && row.status !== l.seenClosed.status)
          violations.push(
            `a close is never taken back: ${label(l.id)} was ${l.seenClosed.status} after step ${l.seenClosed.afterStep + 1} and is now ${row.status}`,
          );
      }

      // ---- document collected − refunded ≤ amount due, unless flagged ----
      const documents: { kind: string; id: string; due: number; links: LinkRow[] }[] = [];
      if (invoiceIds.length > 0) {
        const rows: { id: string; amount_due: number }[] = await tx('invoices')
          .where({ account_id: accountId })
          .whereIn('id', invoiceIds)
          .select('id', 'amount_due');
        for (const r of rows)
          documents.push({
            kind: 'invoice',
            id: r.id,
            due: Number(r.amount_due),
            links: [...links.values()].filter((l) => l.invoice_id === r.id),
          });
      }
      if (orderIds.length > 0) {
        const rows: { id: string; amount: number }[] = await tx('orders')
          .where({ account_id: accountId })
          .whereIn('id', orderIds)
          .select('id', 'amount');
        for (const r of rows)
          documents.push({
            kind: 'order',
            id: r.id,
            due: Number(r.amount),
            links: [...links.values()].filter((l) => l.order_id === r.id),
          });
      }
      for (const d of documents) {
        const kept = d.links.flatMap((l) => paymentsOf(l.id)).filter(counted);
        const net = kept.reduce((sum, p) => sum + p.amount - p.amount_refunded, 0);
        if (net > d.due)
          violations.push(
            `document collected − refunded ≤ amount due: ${d.kind} ${d.id} is due ${d.due} and kept ${net} unflagged through ${d.links
              .map((l) => label(l.id))
              .join(', ')}: ${kept.map((p) => `${label(p.link_id)} ${describePayment(p)}`).join('; ')}`,
          );
      }
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
  return violations;
}
