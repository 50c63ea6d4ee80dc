import { Context } from '@temporalio/activity';
import type { Db } from '../src/db/knex';
import { createLinkStore } from '../src/links/link-store';
import { createLatePayments } from '../src/payments/late-payments';
import { createProviderDirectory } from '../src/payments/provider-directory';
import { createProviderEvents } from '../src/payments/provider-events';
import { createProviderSettings } from '../src/payments/provider-settings';
import {
  createEventReconciler,
  type ParseStoredEvent,
  type ReconcileOptions,
  type ReconcileSummary,
} from '../src/payments/reconcile-events';
import { createPaymentRecorder } from '../src/payments/record-payment';
import { ProviderEventSchema } from '../src/payments/sandbox-provider';
import { createSessionStore } from '../src/payments/session-store';

export interface ReconcilerActivityDeps {
  db: Db;
  /** The link workflows' task queue (late payments announce their webhooks there). */
  taskQueue: string;
  /** Opens the accounts' Stripe keys, to read a stored Stripe event again. */
  secretsKey: Buffer;
  publicBaseUrl: string;
  stripeApiBaseUrl?: string;
}

/**
 * The reconciler's activity. It signals link workflows exactly as the callback route does, through
 * the worker's own client (the activity context's), so it needs no connection of its own.
 */
export function createReconcilerActivities(deps: ReconcilerActivityDeps) {
  const { db, taskQueue } = deps;
  const links = createLinkStore(db);
  const sessions = createSessionStore(db);
  const recordPayments = createPaymentRecorder(db);
  const directory = createProviderDirectory({
    settings: createProviderSettings(db, deps.secretsKey),
    sandbox: undefined,
    stripe: { apiBaseUrl: deps.stripeApiBaseUrl, publicBaseUrl: deps.publicBaseUrl },
  });
  // The payload was verified when it was stored: it is only parsed again, as its route parsed it.
  const parseStored: ParseStoredEvent = async (provider, accountId, payload) => {
    if (provider === 'sandbox') return ProviderEventSchema.parse(JSON.parse(payload));
    if (provider === 'stripe') {
      const stripe = accountId ? await directory.stripeFor(accountId) : undefined;
      if (!stripe) throw new Error(`account ${accountId} no longer has Stripe keys`);
      return stripe.toProviderEvent(JSON.parse(payload));
    }
    throw new Error(`unknown payment provider '${provider}'`);
  };

  return {
    async reconcileProviderEvents(options: ReconcileOptions): Promise<ReconcileSummary> {
      const { client: temporal, log } = Context.current();
      const reconcile = createEventReconciler({
        db,
        parseStored,
        providerEvents: createProviderEvents({
          db,
          temporal,
          links,
          sessions,
          recordLatePayment: createLatePayments({ recordPayments, temporal, taskQueue }),
          logger: { warn: (fields, message) => log.warn(message, fields) },
        }),
      });
      const summary = await reconcile(options);
      for (const e of summary.events) {
        if (e.outcome === 'failed') log.warn('stored provider event not applied', { ...e });
        else if (e.outcome === 'deferred')
          log.info('stored provider event still waits for its workflow', { ...e });
        else log.info('stored provider event reconciled', { ...e });
      }
      return summary;
    },
  };
}

export type ReconcilerActivities = ReturnType<typeof createReconcilerActivities>;
