import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { type ActivityInterceptorsFactory, type NativeConnection, Worker } from '@temporalio/worker';
import { createCampaignActivities } from '../../activities/campaigns';
import { createLinkActivities } from '../../activities/links';
import { createNotificationActivities } from '../../activities/notifications';
import { createReconcilerActivities } from '../../activities/reconciler';
import { createWebhookActivities } from '../../activities/webhooks';
import {
  CHANNELS,
  type Channel,
  channelTaskQueue,
  DEFAULT_LIFECYCLE_SETTINGS,
  type LifecycleSettings,
} from '../../workflows/payment-link/contract';
import { findAccount } from '../accounts/accounts';
import { createCampaignStore } from '../campaigns/store';
import { createCommerceStores } from '../commerce/stores';
import type { Db } from '../db/knex';
import { createLinkService } from '../links/link-service';
import { createLinkStore } from '../links/link-store';
import { createLogger, type Logger } from '../logger';
import type { EmailSender } from '../notifications/email-sender';
import { createNotificationStore } from '../notifications/notification-store';
import type { SmsSender } from '../notifications/sms-sender';
import { activityMetrics } from '../observability/activity-metrics';
import { createOutboxDrainer, type OutboxTuning } from '../outbox/drainer';
import { sandboxProvider } from '../payments/provider';
import { createProviderDirectory } from '../payments/provider-directory';
import { createProviderWork } from '../payments/provider-outbox';
import { createProviderSettings } from '../payments/provider-settings';
import { createProviderTermsCheck } from '../payments/provider-terms';
import { createPaymentRecorder } from '../payments/record-payment';
import { createRefunds } from '../payments/refunds';
import type { EgressPolicy } from '../webhooks/egress';
import { createWebhookStore } from '../webhooks/webhook-store';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface PaylinksWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  email: EmailSender;
  sms: SmsSender;
  publicBaseUrl: string;
  /** Messages per second each channel's task queue hands out, across all workers. */
  ratePerSecond: Record<Channel, number>;
  /** Decrypts the accounts' webhook signing secrets. */
  secretsKey: Buffer;
  /** Where webhook deliveries may connect (ALLOW_PRIVATE_WEBHOOK_URLS; tests inject a resolver). */
  webhookEgress: EgressPolicy;
  /** The payload codec (payloadDataConverter): every payload the workers write is encrypted. */
  dataConverter: DataConverter;
  /**
   * STRIPE_API_BASE_URL: the reconciler reads stored Stripe events again through it, and the
   * outbox drainer expires closed links' Checkout Sessions and refunds late payments through it.
   */
  stripeApiBaseUrl?: string;
  /** Set when the sandbox provider is on: the drainer refunds its late payments too. */
  sandboxSecret?: string;
  /** The lifecycle settings of the links campaigns make; default DEFAULT_LIFECYCLE_SETTINGS. */
  linkSettings?: LifecycleSettings;
  /** How long a single-link campaign's link waits for its workflow to store the row (default 10 s). */
  linkCreateWaitMs?: number;
  /** A prebuilt bundle (tests build one per run); otherwise the worker bundles workflows/ itself. */
  workflowBundlePath?: string;
  /** Slots and cache of the lifecycle worker; default LIFECYCLE_TUNING. */
  tuning?: Partial<LifecycleTuning>;
  /** The outbox drainer's settings (defaults: DEFAULT_OUTBOX_TUNING); false runs none. */
  outbox?: Partial<OutboxTuning> | false;
  /** Where the outbox drainer reports what it gave up on, and campaign pages their retries. */
  logger?: Logger;
  /**
   * More interceptors around the lifecycle worker's activities (local ones included), after the
   * metrics: tests hold a write at a chosen moment with one, without touching the activities.
   */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

/** The lifecycle worker's slots and cache (see LIFECYCLE_TUNING for the reasons). */
export interface LifecycleTuning {
  maxConcurrentWorkflowTaskExecutions: number;
  maxConcurrentWorkflowTaskPolls: number;
  nonStickyToStickyPollRatio: number;
  maxConcurrentLocalActivityExecutions: number;
  maxCachedWorkflows: number;
}

/**
 * The lifecycle worker's slots and cache. Each value was tried against alternatives with a
 * throwaway create-rate script (docs/BENCHMARKS.md, "Worker tuning"); on the shared 2-core test
 * machine the alternatives were within run-to-run noise, so only bounds that follow from the
 * design move away from the SDK's defaults.
 */
export const LIFECYCLE_TUNING: LifecycleTuning = {
  // SDK default: a task is a few ms of CPU plus a local write; more slots only queue on 2 cores.
  maxConcurrentWorkflowTaskExecutions: 40,
  // SDK default (min(10, slots)): enough pollers to keep the slots fed at this size.
  maxConcurrentWorkflowTaskPolls: 10,
  // SDK default: a new link's first task comes from the normal queue, later ones from the sticky
  // one; raising the normal queue's share (0.5 tried) showed no gain.
  nonStickyToStickyPollRatio: 0.2,
  // Each local activity is one Postgres write holding one pooled connection: no more at once than
  // the worker's pool has connections for them (WORKER_POOL_MAX leaves the rest to activities),
  // or they wait on the pool and spend their 5 s start-to-close timeout there.
  maxConcurrentLocalActivityExecutions: 10,
  // A cached run's next task needs no replay. Fixed instead of the SDK's heap-sized default (600
  // runs per GB of heap), so several workers on one machine do not each size for the whole heap.
  maxCachedWorkflows: 1000,
};

/**
 * The workflow worker, one rate-limited worker per channel and the outbox drainer (webhooks and
 * closing messages the links' transitions enqueued), run and stopped together.
 */
export interface PaylinksWorker {
  run(): Promise<void>;
  shutdown(): void;
  isRunning(): boolean;
}

export async function createPaylinksWorker(options: PaylinksWorkerOptions): Promise<PaylinksWorker> {
  const { connection, namespace, taskQueue, db, workflowBundlePath } = options;
  const links = createLinkStore(db);
  const messageDeps = {
    db,
    links,
    notifications: createNotificationStore(db),
    email: options.email,
    sms: options.sms,
    publicBaseUrl: options.publicBaseUrl,
  };
  const { notifyCustomer } = createNotificationActivities(messageDeps);
  const webhookDeps = {
    webhooks: createWebhookStore(db, options.secretsKey),
    egress: options.webhookEgress,
  };
  const logger = options.logger ?? createLogger('warn', 'paylinks-worker');
  const client = new Client({ connection, namespace, dataConverter: options.dataConverter });
  const paymentProviders = createProviderDirectory({
    settings: createProviderSettings(db, options.secretsKey),
    sandbox: options.sandboxSecret ? sandboxProvider(options.sandboxSecret) : undefined,
    stripe: { apiBaseUrl: options.stripeApiBaseUrl, publicBaseUrl: options.publicBaseUrl },
  });
  const drainer =
    options.outbox === false
      ? undefined
      : createOutboxDrainer({
          db,
          webhooks: webhookDeps,
          messages: messageDeps,
          ratePerSecond: options.ratePerSecond,
          providerWork: createProviderWork({
            providers: paymentProviders,
            refunds: createRefunds({
              db,
              providers: paymentProviders,
              links,
              temporal: client,
              taskQueue,
              logger,
            }),
          }),
          logger: options.logger,
          tuning: options.outbox,
        });
  // Campaigns make and cancel links through the API's link service (recipients' links with its
  // start-only path, activities/campaigns.ts).
  const linkService = createLinkService({
    temporal: client,
    links,
    taskQueue,
    settings: options.linkSettings ?? DEFAULT_LIFECYCLE_SETTINGS,
    createWaitMs: options.linkCreateWaitMs ?? 10_000,
    logger,
    commerce: createCommerceStores(db),
    providerTermsProblem: createProviderTermsCheck(db),
  });
  const lifecycle = await Worker.create({
    connection,
    namespace,
    taskQueue,
    dataConverter: options.dataConverter,
    activities: {
      ...createLinkActivities({ links, recordPayments: createPaymentRecorder(db) }),
      // Kept for runs that started before the outbox, and the API's webhook-delivery workflow.
      ...createWebhookActivities(webhookDeps),
      ...createCampaignActivities({
        campaigns: createCampaignStore(db),
        linkService,
        findAccount: (accountId) => findAccount(db, accountId),
        logger,
      }),
      ...createReconcilerActivities({
        db,
        taskQueue,
        secretsKey: options.secretsKey,
        publicBaseUrl: options.publicBaseUrl,
        stripeApiBaseUrl: options.stripeApiBaseUrl,
      }),
    },
    interceptors: { activity: [activityMetrics, ...(options.activityInterceptors ?? [])] },
    ...LIFECYCLE_TUNING,
    ...options.tuning,
    ...(workflowBundlePath
      ? { workflowBundle: { codePath: workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
  const channels = await Promise.all(
    CHANNELS.map((channel) =>
      Worker.create({
        connection,
        namespace,
        taskQueue: channelTaskQueue(taskQueue, channel),
        dataConverter: options.dataConverter,
        activities: { notifyCustomer },
        interceptors: { activity: [activityMetrics] },
        // Temporal's task-queue rate limit, shared by every worker on the queue: no sleeps.
        maxTaskQueueActivitiesPerSecond: options.ratePerSecond[channel],
      }),
    ),
  );
  const all = [lifecycle, ...channels];
  return {
    async run() {
      drainer?.start();
      // If one worker fails the others are stopped too; the first failure is rethrown.
      const results = await Promise.allSettled(
        all.map((w) =>
          w.run().catch((err: unknown) => {
            for (const other of all) if (other.getState() === 'RUNNING') other.shutdown();
            throw err;
          }),
        ),
      );
      await drainer?.stop();
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    shutdown() {
      void drainer?.stop();
      for (const w of all) if (w.getState() === 'RUNNING') w.shutdown();
    },
    isRunning: () => lifecycle.getState() === 'RUNNING',
  };
}
