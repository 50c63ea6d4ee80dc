/**
 * Provider events stored but never applied: a process that died between storing a callback and
 * finishing it (the provider got no answer, or a sandbox checkout that was killed) leaves its row
 * with `processed_at` NULL. After a grace period (a callback still under way finishes on its
 * own) each is handed again to the same code a callback uses, which is idempotent throughout; the
 * link's timeline says the reconciler did it.
 */
import { EventTypes } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';
import { insertLinkEvents } from '../links/link-store';
import type { ProviderEvents } from './provider-events';
import type { ProviderEvent } from './sandbox-provider';

/** A stored payload back as an event, as the callback route parsed it; undefined: nothing to apply. */
export type ParseStoredEvent = (
  provider: string,
  accountId: string | null,
  payload: string,
) => Promise<ProviderEvent | undefined>;

export interface ReconcileOptions {
  /** Events younger than this are left to the callback that is storing them. */
  graceMs: number;
  /** At most this many per run; the next run takes the rest. */
  limit: number;
}

export interface ReconciledEvent {
  provider: string;
  eventId: string;
  linkId?: string;
  /** `deferred`: the link's workflow still could not take it (src/payments/deferred-signals.ts); due again later. */
  outcome: 'applied' | 'already_processed' | 'ignored' | 'deferred' | 'failed';
  error?: string;
}

export interface ReconcileSummary {
  found: number;
  events: ReconciledEvent[];
}

interface StoredEventRow {
  provider: string;
  event_id: string;
  account_id: string;
  payload: string;
  received_at: Date;
}

export function createEventReconciler(deps: {
  db: Db;
  providerEvents: ProviderEvents;
  parseStored: ParseStoredEvent;
}) {
  const { db, providerEvents, parseStored } = deps;

  async function reconcileOne(row: StoredEventRow, waiting: Set<string>): Promise<ReconciledEvent> {
    const { provider, event_id: eventId } = row;
    const event = await parseStored(provider, row.account_id, row.payload);
    if (!event) {
      // Nothing Paylinks applies (stored before the route learnt to ignore it): done with it.
      await db('provider_events')
        .where({ provider, account_id: row.account_id, event_id: eventId })
        .update({ processed_at: db.fn.now() });
      return { provider, eventId, outcome: 'ignored' };
    }
    const session = await db('payment_sessions')
      .where({ id: event.data.session_id })
      .first('link_id', 'account_id');
    // Its link's workflow could not take the pass's earlier one: this one waits for the next pass.
    if (session && waiting.has(session.link_id))
      return { provider, eventId, linkId: session.link_id, outcome: 'deferred' };
    const { duplicate, deferred } = await providerEvents.receive(
      provider,
      event,
      Buffer.from(row.payload, 'utf8'),
      row.account_id ?? undefined,
    );
    if (duplicate) return { provider, eventId, linkId: session?.link_id, outcome: 'already_processed' };
    if (deferred) {
      if (session) waiting.add(session.link_id);
      return { provider, eventId, linkId: session?.link_id, outcome: 'deferred' };
    }
    await insertLinkEvents(db, session.account_id, session.link_id, [
      {
        key: `reconciled:${provider}:${eventId}`,
        type: EventTypes.paymentReconciled,
        data: {
          provider,
          event_id: eventId,
          event_type: event.type,
          payment_id: event.data.payment_id,
          amount: event.data.amount,
          currency: event.data.currency,
          received_at: row.received_at.toISOString(),
        },
      },
    ]);
    return { provider, eventId, linkId: session.link_id, outcome: 'applied' };
  }

  /** 1, 2, 4… minutes after each failed attempt, at most a day. */
  async function deferFailed(row: StoredEventRow, error: string): Promise<void> {
    await db('provider_events')
      .where({ provider: row.provider, account_id: row.account_id, event_id: row.event_id })
      .update({
        reconcile_attempts: db.raw('reconcile_attempts + 1'),
        reconcile_error: error,
        reconcile_after: db.raw(
          "now() + least(power(2, reconcile_attempts) * interval '1 minute', interval '1 day')",
        ),
      });
  }

  return async function reconcile(options: ReconcileOptions): Promise<ReconcileSummary> {
    const rows: StoredEventRow[] = await db('provider_events')
      .whereNull('processed_at')
      // Past the grace period, or deferred by an attempt that finished (a callback whose signal
      // Temporal refused, an earlier pass) and due again: no callback is still at those.
      .where((q) =>
        q
          .where((young) =>
            young
              .whereNull('reconcile_after')
              .where(
                'received_at',
                '<=',
                db.raw("now() - (? * interval '1 millisecond')", [options.graceMs]),
              ),
          )
          .orWhere('reconcile_after', '<=', db.fn.now()),
      )
      // An attempt that holds the apply lease is still at it; if it died, the lease runs out.
      .where((q) => q.whereNull('applying_until').orWhere('applying_until', '<', db.fn.now()))
      .orderBy([
        { column: 'reconcile_attempts', order: 'asc' },
        { column: 'received_at', order: 'asc' },
      ])
      .limit(options.limit)
      .select('provider', 'event_id', 'account_id', 'payload', 'received_at');
    const events: ReconciledEvent[] = [];
    /** Links whose workflow refused this pass a signal (at its signal limit, Temporal unreachable…). */
    const waiting = new Set<string>();
    for (const row of rows) {
      try {
        events.push(await reconcileOne(row, waiting));
      } catch (err) {
        // One event that cannot be applied (its session gone, a provider unreachable) does not
        // hold up the others: it is tried again after a delay that doubles with each attempt.
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
        await deferFailed(row, error);
        events.push({ provider: row.provider, eventId: row.event_id, outcome: 'failed', error });
      }
    }
    return { found: rows.length, events };
  };
}

export type ReconcileEvents = ReturnType<typeof createEventReconciler>;
