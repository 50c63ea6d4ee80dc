/**
 * The sandbox's callbacks for a run's sessions as Paylinks stored them (provider_events keeps the
 * body byte for byte, as text), and the provider sending one again.
 */
import type { Db } from '../../../src/db/knex';
import { SIGNATURE_HEADER, signPayload } from '../../../src/signing';
import { type Answer, send, type Target } from '../target';

export interface StoredCallback {
  eventId: string;
  /** The body as the provider sent it. */
  raw: string;
  event: {
    id: string;
    type: string;
    data: { session_id: string; payment_id: string; amount: number };
  };
  receivedAt: Date;
  processed: boolean;
  /** Nobody is applying it now (its lease is free or has run out). */
  leaseFree: boolean;
}

/** The account's sandbox callbacks about these sessions, oldest first. */
export async function storedCallbacks(
  db: Db,
  accountId: string,
  sessionIds: string[],
): Promise<StoredCallback[]> {
  if (sessionIds.length === 0) return [];
  const rows: {
    event_id: string;
    payload: string;
    received_at: Date;
    processed: boolean;
    lease_free: boolean;
  }[] = await db('provider_events')
    .where({ account_id: accountId, provider: 'sandbox' })
    // The array goes to Postgres as one text[] parameter.
    .whereRaw(`(payload::jsonb)->'data'->>'session_id' = ANY(?::text[])`, [sessionIds])
    .orderBy([
      { column: 'received_at', order: 'asc' },
      { column: 'event_id', order: 'asc' },
    ])
    .select(
      'event_id',
      'payload',
      'received_at',
      db.raw('processed_at IS NOT NULL AS processed'),
      db.raw('(applying_until IS NULL OR applying_until < now()) AS lease_free'),
    );
  return rows.map((r) => ({
    eventId: r.event_id,
    raw: r.payload,
    event: JSON.parse(r.payload),
    receivedAt: r.received_at,
    processed: r.processed,
    leaseFree: r.lease_free,
  }));
}

/** A provider's callback sent again, the same bytes signed anew (a signature carries its time). */
export async function redeliver(
  target: Target,
  callback: StoredCallback,
  noted: (what: string, a: Answer) => Answer = (_w, a) => a,
): Promise<number> {
  const r = await send(target.baseUrl, {
    method: 'POST',
    path: '/v1/callbacks/sandbox',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signPayload(target.sandboxSecret, callback.raw),
    },
    body: callback.raw,
  });
  return noted(`callback ${callback.eventId}`, r).status;
}
