/**
 * The outbox table: rows written inside a link's transition (enqueueOutbox, in the caller's
 * transaction) and claimed by drainers with `FOR UPDATE SKIP LOCKED` and a lease, so two drainers
 * never hold the same row and a drainer that dies lets its rows go when their lease ends.
 */
import { randomUUID } from 'node:crypto';
import type { OutboxItem } from '../../workflows/payment-link/outbox-items';
import type { Db } from '../db/knex';
import type { ProviderOutboxItem } from '../payments/provider-outbox';

/** What a transition may leave in the outbox: its announcements, and work for the payment provider. */
export type StoredOutboxItem = OutboxItem | ProviderOutboxItem;

/** Woken on commit of every transaction that enqueued something (LISTEN in the drainer). */
export const OUTBOX_CHANNEL = 'paylinks_outbox';

export interface OutboxRow {
  id: string;
  account_id: string;
  link_id: string;
  kind: StoredOutboxItem['kind'];
  dedupe_key: string;
  payload: StoredOutboxItem['payload'];
  attempts: number;
  next_attempt_at: Date;
  lease_token: string | null;
  leased_until: Date | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  given_up_at: Date | null;
  outcome: string | null;
  last_error: string | null;
  created_at: Date;
}

/** A claimed row: `lease_token` is this claim's, and `attempts` counts it. */
export type ClaimedRow = OutboxRow & { lease_token: string };

/**
 * Adds a transition's announcements in the caller's transaction. A retried write meets the unique
 * (link, dedupe key) and adds nothing; the NOTIFY is delivered only if the transaction commits.
 */
export async function enqueueOutbox(
  tx: Db,
  accountId: string,
  linkId: string,
  items: readonly StoredOutboxItem[] | undefined,
): Promise<void> {
  if (!items || items.length === 0) return;
  const inserted = await tx('outbox')
    .insert(
      items.map((item) => ({
        account_id: accountId,
        link_id: linkId,
        kind: item.kind,
        dedupe_key: item.key,
        payload: JSON.stringify(item.payload),
      })),
    )
    .onConflict(['link_id', 'dedupe_key'])
    .ignore()
    .returning('id');
  if (inserted.length > 0) await tx.raw('SELECT pg_notify(?, ?)', [OUTBOX_CHANNEL, '']);
}

export function createOutboxStore(db: Db) {
  return {
    /**
     * Up to `limit` due rows, leased to this claim for `leaseSeconds`, at most `perAccount` of one
     * account. Accounts in `skipAccounts` (already at their share of the drainer's slots) wait for
     * a later claim: a merchant's backlog never takes every slot.
     */
    async claim(
      limit: number,
      leaseSeconds: number,
      perAccount: number,
      skipAccounts: readonly string[] = [],
    ): Promise<ClaimedRow[]> {
      if (limit <= 0) return [];
      const token = randomUUID();
      const { rows } = await db.raw(
        `UPDATE outbox AS o
            SET attempts = o.attempts + 1,
                lease_token = ?,
                leased_until = now() + make_interval(secs => ?),
                -- Not due again before the lease ends: a drainer that died is taken over then.
                next_attempt_at = now() + make_interval(secs => ?),
                last_attempt_at = now()
          WHERE o.id IN (
                SELECT id FROM outbox
                 WHERE id IN (
                       SELECT id FROM (
                              SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY next_attempt_at, id) AS n
                                FROM (SELECT id, account_id, next_attempt_at FROM outbox
                                       WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= now()
                                         AND NOT (account_id = ANY(?::text[]))
                                       ORDER BY next_attempt_at, id
                                       LIMIT ?) AS due) AS ranked
                        WHERE n <= ?)
                   AND delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at, id
                 LIMIT ?
                   FOR UPDATE SKIP LOCKED)
        RETURNING o.*`,
        [token, leaseSeconds, leaseSeconds, [...skipAccounts], limit * 8, perAccount, limit],
      );
      return rows as ClaimedRow[];
    },

    /** Done, if this claim still holds the row (a drainer whose lease ran out writes nothing). */
    async complete(row: ClaimedRow, outcome: string): Promise<void> {
      await db('outbox').where({ id: row.id, lease_token: row.lease_token }).update({
        delivered_at: db.fn.now(),
        outcome,
        last_error: null,
        lease_token: null,
        leased_until: null,
      });
    },

    /** Tried again at `retryInSeconds` from now. */
    async retryLater(row: ClaimedRow, error: string, retryInSeconds: number): Promise<void> {
      await db('outbox')
        .where({ id: row.id, lease_token: row.lease_token })
        .update({
          last_error: error,
          next_attempt_at: db.raw('now() + make_interval(secs => ?)', [retryInSeconds]),
          lease_token: null,
          leased_until: null,
        });
    },

    /**
     * Forgets rows delivered more than `days` ago, a batch at a time: their record is in
     * webhook_deliveries and notifications. Given-up rows stay for an operator to look at.
     */
    async pruneDelivered(days: number, batch = 1000): Promise<number> {
      const { rowCount } = await db.raw(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox
            WHERE delivered_at IS NOT NULL AND delivered_at < now() - make_interval(days => ?)
            LIMIT ?)`,
        [days, batch],
      );
      return rowCount ?? 0;
    },

    /** Never tried again: retried for too long, or refused for good. */
    async giveUp(row: ClaimedRow, outcome: string, error: string): Promise<void> {
      await db('outbox').where({ id: row.id, lease_token: row.lease_token }).update({
        given_up_at: db.fn.now(),
        outcome,
        last_error: error,
        lease_token: null,
        leased_until: null,
      });
    },
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
