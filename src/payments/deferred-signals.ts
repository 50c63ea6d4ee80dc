/**
 * A payment whose link workflow cannot be told about it now: Temporal refused the signal (the
 * run is at its signal limit), is unreachable, or answered late. The provider's event is already
 * stored (`provider_events`, unprocessed): it stays so, due again shortly, and the reconciler
 * (src/payments/reconcile-events.ts) hands it to the same callback code later, until a signal
 * goes through. The callback is answered 2xx: the payment is durable, and a provider retrying a
 * 5xx for ever helps nobody. It is recorded once however often it is tried (Postgres de-duplicates
 * payments by provider id, and the event is marked processed once).
 */
import { type Client, WorkflowUpdateStage } from '@temporalio/client';
import { handOverUpdate, linkWorkflowId } from '../../workflows/payment-link/contract';
import type { Db } from '../db/knex';

/**
 * Due again after 1, 2, 4… seconds, at most 30: a hand-over takes well under a second, and a link
 * busy enough to be refused may be refused several times before its turn comes.
 */
const RETRY_SQL = "now() + least(power(2, reconcile_attempts) * interval '1 second', interval '30 seconds')";

const HAND_OVER_WAIT_MS = 2000;

/** Temporal's answer to a signal past `history.maximumSignalsPerExecution`. */
export function isSignalLimit(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const { message, details, cause } = err as { message?: unknown; details?: unknown; cause?: unknown };
  const text = `${typeof message === 'string' ? message : ''} ${typeof details === 'string' ? details : ''}`;
  if (/limit for signal/i.test(text)) return true;
  return isSignalLimit(cause, depth + 1);
}

const reasonOf = (err: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const { message, cause } = e as { message?: unknown; cause?: unknown };
    if (typeof message === 'string' && message) parts.push(message);
    e = cause;
  }
  return `signal refused: ${parts.join(': ') || String(err)}`.slice(0, 500);
};

/** One request to hand over per link and process in this long: the run needs a moment to do it. */
const HAND_OVER_EVERY_MS = 2000;

export function createSignalDeferral(deps: { db: Db; temporal: Client }) {
  const { db, temporal } = deps;
  /** When this process last asked each link to hand over. */
  const asked = new Map<string, number>();

  /**
   * The run is at its signal limit: it is asked to continue as new (an update, which that limit
   * does not count), so that the retry finds a run that takes signals. A refusal (a hand-over
   * already due, the link closed) or a failure changes nothing: the retry asks again.
   */
  async function askToHandOver(linkId: string): Promise<void> {
    const now = Date.now();
    if (now - (asked.get(linkId) ?? 0) < HAND_OVER_EVERY_MS) return;
    asked.set(linkId, now);
    for (const [id, at] of asked) if (now - at >= HAND_OVER_EVERY_MS) asked.delete(id);
    // Accepted in the run's next workflow task; with no worker up that never comes: not waited for.
    await temporal.workflow
      .withDeadline(Date.now() + HAND_OVER_WAIT_MS, () =>
        temporal.workflow
          .getHandle(linkWorkflowId(linkId))
          .startUpdate(handOverUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED }),
      )
      .catch(() => undefined);
  }

  /** Leaves the stored event unprocessed and due again soon; the session stays as it is. */
  return async function deferSignal(
    event: { provider: string; eventId: string; linkId: string },
    err: unknown,
  ): Promise<void> {
    if (isSignalLimit(err)) await askToHandOver(event.linkId);
    await db('provider_events')
      .where({ provider: event.provider, event_id: event.eventId })
      .whereNull('processed_at')
      .update({
        applying_until: null,
        reconcile_attempts: db.raw('reconcile_attempts + 1'),
        reconcile_error: reasonOf(err),
        reconcile_after: db.raw(RETRY_SQL),
      });
  };
}

export type DeferSignal = ReturnType<typeof createSignalDeferral>;
