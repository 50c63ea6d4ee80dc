import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import type { CampaignSettings } from '../../workflows/campaign/contract';
import { DEFAULT_LIFECYCLE_SETTINGS, type LifecycleSettings } from '../../workflows/payment-link/contract';
import { createCampaignEngine } from '../campaigns/engine';
import { createCampaignStore } from '../campaigns/store';
import { createDocumentLinks } from '../commerce/document-links';
import { createCommerceStores } from '../commerce/stores';
import type { RateLimits, TrustProxy } from '../config/rate-limits';
import type { Db } from '../db/knex';
import type { DevPeers } from '../dev/peers';
import { createLinkService } from '../links/link-service';
import { createLinkStore } from '../links/link-store';
import { createPageViews } from '../links/page-views';
import type { Logger } from '../logger';
import { createNotificationStore } from '../notifications/notification-store';
import { createLatePayments } from '../payments/late-payments';
import { sandboxProvider } from '../payments/provider';
import { createProviderDirectory } from '../payments/provider-directory';
import { createProviderSettings } from '../payments/provider-settings';
import { createProviderTermsCheck } from '../payments/provider-terms';
import { createPaymentRecorder } from '../payments/record-payment';
import { createRefunds } from '../payments/refunds';
import type { ResolveHost } from '../webhooks/egress';
import { createWebhookStore } from '../webhooks/webhook-store';
import { createApp } from './app';
import type { RateLimitStoreFactory } from './rate-limits';
import type { CodecRoutesDeps } from './routes/codec';

export interface ApiWiring {
  db: Db;
  temporal: Client;
  taskQueue: string;
  publicBaseUrl: string;
  createWaitMs: number;
  /** TEMPORAL_RPC_TIMEOUT_MS: how long a link's workflow start may take before the API answers 503. */
  temporalRpcTimeoutMs?: number;
  logger: Logger;
  settings?: LifecycleSettings;
  /** Campaign runs' page sizes and continue-as-new point; tests shrink them. */
  campaignSettings?: Partial<CampaignSettings>;
  twilioAuthToken: string | undefined;
  sandboxSecret: string | undefined;
  /** Encrypts the accounts' webhook secrets. */
  secretsKey: Buffer;
  /** Accept webhook URLs on private or loopback addresses (development and tests). */
  allowPrivateWebhookUrls?: boolean;
  /** How webhook hosts are resolved when registered; the system's DNS unless a test injects one. */
  resolveWebhookHost?: ResolveHost;
  production?: boolean;
  devPeers?: DevPeers;
  /** STRIPE_API_BASE_URL; undefined: Stripe's own API. */
  stripeApiBaseUrl?: string;
  /** The Temporal UI's codec endpoint (CODEC_AUTH_TOKEN); undefined: off. */
  codec?: CodecRoutesDeps;
  rateLimits?: RateLimits;
  rateLimitStore?: RateLimitStoreFactory;
  trustProxy?: TrustProxy;
  /** METRICS_TOKEN: serve /metrics on the API port to bearers of it. */
  metricsToken?: string;
}

/** The API, and what it holds in memory that must be written before the process ends. */
export type PaylinksApi = Express & {
  /**
   * Writes the page views counted in memory and stops their timer. Call after the server has
   * stopped taking requests and before the database pool closes.
   */
  drain(): Promise<void>;
};

/** Builds the whole API from its dependencies; entry points only listen and shut down. */
export function composeApi(w: ApiWiring): PaylinksApi {
  const links = createLinkStore(w.db);
  const pageViews = createPageViews(w.db, w.logger);
  const providerSettings = createProviderSettings(w.db, w.secretsKey);
  const paymentProviders = createProviderDirectory({
    settings: providerSettings,
    sandbox: w.sandboxSecret ? sandboxProvider(w.sandboxSecret) : undefined,
    stripe: { apiBaseUrl: w.stripeApiBaseUrl, publicBaseUrl: w.publicBaseUrl },
  });
  const commerce = createCommerceStores(w.db);
  const campaigns = createCampaignStore(w.db);
  const linkService = createLinkService({
    temporal: w.temporal,
    links,
    taskQueue: w.taskQueue,
    settings: w.settings ?? DEFAULT_LIFECYCLE_SETTINGS,
    createWaitMs: w.createWaitMs,
    ...(w.temporalRpcTimeoutMs ? { temporalRpcTimeoutMs: w.temporalRpcTimeoutMs } : {}),
    logger: w.logger,
    commerce,
    providerTermsProblem: createProviderTermsCheck(w.db),
  });
  const app = createApp({
    db: w.db,
    commerce,
    temporal: w.temporal,
    links,
    pageViews,
    linkService,
    documentLinks: createDocumentLinks({ commerce, links, linkService }),
    campaigns,
    campaignEngine: createCampaignEngine({
      temporal: w.temporal,
      campaigns,
      taskQueue: w.taskQueue,
      ...(w.campaignSettings ? { settings: w.campaignSettings } : {}),
      ...(w.temporalRpcTimeoutMs ? { rpcTimeoutMs: w.temporalRpcTimeoutMs } : {}),
    }),
    recordLatePayment: createLatePayments({
      recordPayments: createPaymentRecorder(w.db),
      temporal: w.temporal,
      taskQueue: w.taskQueue,
    }),
    notifications: createNotificationStore(w.db),
    twilioAuthToken: w.twilioAuthToken,
    sandboxSecret: w.sandboxSecret,
    webhooks: createWebhookStore(w.db, w.secretsKey),
    secretsKey: w.secretsKey,
    allowPrivateWebhookUrls: w.allowPrivateWebhookUrls ?? false,
    resolveWebhookHost: w.resolveWebhookHost,
    production: w.production ?? true,
    devPeers: w.devPeers,
    codec: w.codec,
    rateLimits: w.rateLimits,
    rateLimitStore: w.rateLimitStore,
    trustProxy: w.trustProxy,
    publicBaseUrl: w.publicBaseUrl,
    logger: w.logger,
    metricsToken: w.metricsToken,
    providerSettings,
    paymentProviders,
    refunds: createRefunds({
      db: w.db,
      providers: paymentProviders,
      links,
      temporal: w.temporal,
      taskQueue: w.taskQueue,
      logger: w.logger,
    }),
  });
  return Object.assign(app, { drain: () => pageViews.stop() });
}
