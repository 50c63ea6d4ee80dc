/**
 * Delivers the outbox: a loop of its own in the worker process that claims due rows (a lease per
 * claim, `FOR UPDATE SKIP LOCKED`, so drainers in several processes share the work and one that
 * dies hands its rows over when their lease ends), sends each through the code the activities use
 * (signed webhooks with their egress check and delivery records; customer messages, once per
 * message key, recorded in notifications), and schedules a failure again with backoff for up to a
 * day; work for the payment provider (expiring the checkouts of a closed link, refunding a late
 * payment) goes the same way. Woken by NOTIFY on commit of an enqueue, polling as a fallback. Its own bounded
 * concurrency, with a cap per account: a merchant's dead endpoint waits out its timeouts in a few
 * slots while everyone else's webhooks go on.
 */
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { type NotificationActivityDeps, sendCustomerMessage } from '../../activities/notifications';
import {
  deliverWebhookOnce,
  type WebhookActivityDeps,
  type WebhookEvent,
  WebhookRefusedError,
} from '../../activities/webhooks';
import type { Channel } from '../../workflows/payment-link/contract';
import type { ClosingMessage } from '../../workflows/payment-link/outbox-items';
import type { Db } from '../db/knex';
import type { Logger } from '../logger';
import { messages, webhookDeliveries } from '../observability/metrics';
import type { ProviderOutboxItem, ProviderWork } from '../payments/provider-outbox';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelaySeconds } from './backoff';
import { type ClaimedRow, createOutboxStore, OUTBOX_CHANNEL } from './outbox-store';
import { createRateLimiter } from './rate-limiter';

export interface OutboxTuning {
  /** Rows delivered at once by this drainer. */
  concurrency: number;
  /** Of which one account's rows take at most (about) this many. */
  perAccountConcurrency: number;
  /** Longer than any one attempt runs (webhooks time out at 10 s, SMTP idles out at 30 s). */
  leaseSeconds: number;
  /** The fallback when no NOTIFY arrives (a lost LISTEN connection, retries falling due). */
  pollMs: number;
  retry: RetryPolicy;
  /** LISTEN for enqueues; off where the server takes one session at a time (embedded PGlite). */
  listen: boolean;
  /** Delivered rows are deleted this many days after delivery (checked hourly). */
  keepDeliveredDays: number;
}

export const DEFAULT_OUTBOX_TUNING: OutboxTuning = {
  concurrency: 16,
  perAccountConcurrency: 4,
  leaseSeconds: 60,
  pollMs: 1000,
  retry: DEFAULT_RETRY_POLICY,
  listen: true,
  keepDeliveredDays: 7,
};

const PRUNE_EVERY_MS = 3_600_000;

export interface OutboxDrainerDeps {
  db: Db;
  webhooks: WebhookActivityDeps;
  messages: NotificationActivityDeps;
  /** EMAIL_PER_SECOND / SMS_PER_SECOND, respected by this drainer's sends. */
  ratePerSecond: Record<Channel, number>;
  /** Carries out the provider's rows (`checkout_expire`, `refund`); without it they wait for a drainer that has it. */
  providerWork?: ProviderWork;
  logger?: Logger;
  tuning?: Partial<OutboxTuning>;
}

export interface OutboxDrainer {
  start(): void;
  /** Stops claiming, waits for the attempts under way, lets go of the LISTEN connection. */
  stop(): Promise<void>;
}

/** The pool's connection settings: LISTEN gets a connection of its own, outside the pool. */
const connectionOf = (db: Db): pg.ClientConfig =>
  (db.client as { config: { connection: pg.ClientConfig } }).config.connection;

const errorText = (err: unknown): string => String((err as Error)?.message ?? err).slice(0, 500);

const isProviderRow = (row: ClaimedRow): boolean => row.kind === 'checkout_expire' || row.kind === 'refund';

export function createOutboxDrainer(deps: OutboxDrainerDeps): OutboxDrainer {
  const tuning = { ...DEFAULT_OUTBOX_TUNING, ...deps.tuning };
  const { db, logger } = deps;
  const store = createOutboxStore(db);
  const limiters = {
    email: createRateLimiter(deps.ratePerSecond.email),
    sms: createRateLimiter(deps.ratePerSecond.sms),
  };
  const inFlight = new Set<Promise<void>>();
  const perAccount = new Map<string, number>();

  let stopped = false;
  let started: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let woken = false;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    woken = true;
    wakeUp?.();
  };

  // ---- LISTEN, on a connection of its own (never one the pool's queries wait for) ----
  let listener: pg.Client | undefined;
  let listening: Promise<void> | undefined;
  const dropListener = (conn: pg.Client) => {
    if (listener === conn) listener = undefined;
  };
  function listen(): Promise<void> {
    listening ??= (async () => {
      const own = new pg.Client(connectionOf(db));
      try {
        own.on('notification', (n) => {
          if (n.channel === OUTBOX_CHANNEL) wake();
        });
        own.on('error', () => dropListener(own));
        own.once('end', () => dropListener(own));
        await own.connect();
        await own.query(`LISTEN ${OUTBOX_CHANNEL}`);
        listener = own;
        if (stopped) await unlisten();
      } catch (err) {
        // Polling carries on; LISTEN is tried again at the next poll.
        logger?.debug({ err }, 'outbox: LISTEN failed, polling');
        if (listener !== own) await own.end().catch(() => undefined);
      } finally {
        listening = undefined;
      }
    })();
    return listening;
  }
  async function unlisten(): Promise<void> {
    const conn = listener;
    listener = undefined;
    if (!conn) return;
    conn.removeAllListeners('notification');
    await conn.end().catch(() => undefined);
  }

  // ---- one row ----
  async function attempt(row: ClaimedRow): Promise<void> {
    try {
      if (isProviderRow(row)) {
        if (!deps.providerWork) throw new Error('this drainer carries out no payment-provider work');
        const item = { kind: row.kind, key: row.dedupe_key, payload: row.payload } as ProviderOutboxItem;
        const outcome = await deps.providerWork.run(item, row.account_id);
        if ('done' in outcome) await store.complete(row, outcome.done);
        else {
          logger?.warn(
            { outbox_id: row.id, link_id: row.link_id, kind: row.kind, outcome: outcome.giveUp },
            'outbox: the payment provider refused the work',
          );
          await store.giveUp(row, outcome.giveUp, outcome.error);
        }
      } else if (row.kind === 'webhook') {
        const outcome = await deliverWebhookOnce(deps.webhooks, row.payload as WebhookEvent, row.attempts);
        webhookDeliveries.inc({ outcome });
        await store.complete(row, outcome);
      } else {
        const message = row.payload as ClosingMessage;
        await limiters[message.channel].take();
        const outcome = await sendCustomerMessage(deps.messages, {
          ...message,
          linkId: row.link_id,
          accountId: row.account_id,
        });
        messages.inc({ channel: message.channel, outcome });
        await store.complete(row, outcome);
      }
    } catch (err) {
      await failed(row, err).catch((again: unknown) =>
        // The lease runs out and another claim tries the row again.
        logger?.warn({ err: again, outbox_id: row.id }, 'outbox: could not record a failed attempt'),
      );
    }
  }

  async function failed(row: ClaimedRow, err: unknown): Promise<void> {
    const permanent =
      err instanceof WebhookRefusedError || (err instanceof ApplicationFailure && err.nonRetryable);
    if (row.kind === 'webhook') webhookDeliveries.inc({ outcome: 'failed' });
    else if (row.kind === 'message')
      messages.inc({
        channel: (row.payload as ClosingMessage).channel,
        outcome: permanent ? 'failed' : 'retry',
      });
    if (permanent) {
      // Recorded where it belongs already (webhook_deliveries, notifications): no retry fixes it.
      await store.giveUp(row, row.kind === 'webhook' ? 'refused_address' : 'failed', errorText(err));
      return;
    }
    const ageSeconds = (Date.now() - new Date(row.created_at).getTime()) / 1000;
    const delay = retryDelaySeconds(tuning.retry, row.attempts, ageSeconds);
    if (delay === undefined) {
      logger?.warn(
        { outbox_id: row.id, link_id: row.link_id, kind: row.kind, attempts: row.attempts },
        'outbox: given up after retrying for too long',
      );
      await store.giveUp(row, 'gave_up', errorText(err));
      return;
    }
    await store.retryLater(row, errorText(err), delay);
  }

  function begin(row: ClaimedRow): void {
    perAccount.set(row.account_id, (perAccount.get(row.account_id) ?? 0) + 1);
    const running: Promise<void> = attempt(row).finally(() => {
      inFlight.delete(running);
      const left = (perAccount.get(row.account_id) ?? 1) - 1;
      if (left > 0) perAccount.set(row.account_id, left);
      else perAccount.delete(row.account_id);
      wake(); // a slot is free
    });
    inFlight.add(running);
  }

  // ---- the loop ----
  let prunedAt = 0;
  async function prune(): Promise<void> {
    if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = Date.now();
    try {
      await store.pruneDelivered(tuning.keepDeliveredDays);
    } catch (err) {
      logger?.warn({ err }, 'outbox: could not prune delivered rows');
    }
  }

  async function loop(): Promise<void> {
    // Not waited for: a database that is slow to accept a session must not hold up the first claim.
    if (tuning.listen) void listen();
    while (!stopped) {
      woken = false;
      let full = false;
      try {
        const free = tuning.concurrency - inFlight.size;
        if (free > 0) {
          const busy = [...perAccount].filter(([, n]) => n >= tuning.perAccountConcurrency).map(([a]) => a);
          const rows = await store.claim(free, tuning.leaseSeconds, tuning.perAccountConcurrency, busy);
          for (const row of rows) begin(row);
          full = rows.length === free; // more may be due
        }
      } catch (err) {
        // The database is away: the next poll tries again.
        logger?.warn({ err }, 'outbox: could not claim rows');
      }
      if (stopped) break;
      if (full && inFlight.size < tuning.concurrency) continue;
      await prune();
      if (tuning.listen && !listener) void listen();
      if (!woken) {
        await new Promise<void>((resume) => {
          const timer = setTimeout(resume, tuning.pollMs);
          wakeUp = () => {
            clearTimeout(timer);
            resume();
          };
        });
        wakeUp = undefined;
      }
    }
  }

  return {
    start() {
      started ??= loop().catch((err: unknown) => logger?.error({ err }, 'outbox: the drainer stopped'));
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        wake();
        await started;
        await Promise.all([...inFlight]);
        await listening;
        await unlisten();
      })();
      return stopping;
    },
  };
}
