import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { CampaignEngine } from '../campaigns/engine';
import { campaignImportRoutes, campaignRoutes, campaignRunRoutes } from '../campaigns/http';
import type { CampaignStore } from '../campaigns/store';
import type { DocumentLinks } from '../commerce/document-links';
import type { CommerceStores } from '../commerce/stores';
import { DEFAULT_RATE_LIMITS, type RateLimits, type TrustProxy } from '../config/rate-limits';
import { type Db, isDatabaseReachable } from '../db/knex';
import type { DevPeers } from '../dev/peers';
import type { LinkService } from '../links/link-service';
import type { LinkStore } from '../links/link-store';
import type { PageViews } from '../links/page-views';
import type { Logger } from '../logger';
import type { NotificationStore } from '../notifications/notification-store';
import { metricsHandler } from '../observability/metrics-endpoint';
import type { RecordLatePayment } from '../payments/late-payments';
import { type ProviderRegistry, sandboxProvider } from '../payments/provider';
import type { ProviderDirectory } from '../payments/provider-directory';
import { createProviderEvents } from '../payments/provider-events';
import type { ProviderSettings } from '../payments/provider-settings';
import type { Refunds } from '../payments/refunds';
import { createSessionStore } from '../payments/session-store';
import { isTemporalReachable } from '../temporal/connection';
import type { ResolveHost } from '../webhooks/egress';
import type { WebhookStore } from '../webhooks/webhook-store';
import { authenticate, requireAccount } from './auth';
import { CUSTOMER_PAGE_PATHS, customerPageErrors } from './customer-page-errors';
import { ApiError, errorHandler } from './errors';
import { limiters, linkCustomerLocale, type RateLimitStoreFactory } from './rate-limits';
import { countCallbackFailures, requestLog } from './request-log';
import { accountRoutes } from './routes/account';
import { analyticsRoutes } from './routes/analytics';
import { type CodecRoutesDeps, codecRoutes } from './routes/codec';
import { commerceRoutes } from './routes/commerce';
import { dashboardRoutes } from './routes/dashboard';
import { devOutboxRoutes } from './routes/dev-outbox';
import { docsRoutes } from './routes/docs';
import { linkPageRoutes } from './routes/link-page';
import { linkQrRoutes } from './routes/link-qr';
import { paymentLinkRoutes } from './routes/payment-links';
import { paymentProviderRoutes } from './routes/payment-provider';
import { paymentRoutes } from './routes/payments';
import { providerCallbackRoutes } from './routes/provider-callbacks';
import { sandboxCheckoutRoutes } from './routes/sandbox-checkout';
import { twilioCallbackRoutes } from './routes/twilio-callbacks';
import { unsubscribeRoutes } from './routes/unsubscribe';
import { webhookRoutes } from './routes/webhooks';
import { securityHeaders } from './security';

export interface AppDeps {
  db: Db;
  commerce: CommerceStores;
  notifications: NotificationStore;
  /** Verifies twilio's delivery callbacks. */
  twilioAuthToken: string | undefined;
  /** Signs and verifies the sandbox provider's callbacks. */
  sandboxSecret: string | undefined;
  webhooks: WebhookStore;
  /** Encrypts secrets at rest (the stored answer of an idempotent webhook endpoint request). */
  secretsKey: Buffer;
  rateLimits?: RateLimits;
  /** Shared counters for several API instances; undefined: this process's memory. */
  rateLimitStore?: RateLimitStoreFactory;
  /** TRUST_PROXY: who may name the client in X-Forwarded-For (default: loopback only). */
  trustProxy?: TrustProxy;
  allowPrivateWebhookUrls: boolean;
  resolveWebhookHost?: ResolveHost;
  /** Production: only https redirects after checkout. */
  production: boolean;
  /** The local SMTP/SMS stand-ins, shown at /dev/outbox (development only). */
  devPeers?: DevPeers;
  temporal: Client;
  links: LinkStore;
  /** Views of the public link pages: counted in memory, written about once a second. */
  pageViews: PageViews;
  linkService: LinkService;
  documentLinks: DocumentLinks;
  /** Campaigns and their recipients (the one campaign store). */
  campaigns: CampaignStore;
  /** Starts, pauses, resumes and cancels campaigns (their workflows). */
  campaignEngine: CampaignEngine;
  recordLatePayment: RecordLatePayment;
  publicBaseUrl: string;
  logger: Logger;
  providerSettings: ProviderSettings;
  /** The provider each account pays through (Stripe, or the sandbox). */
  paymentProviders: ProviderDirectory;
  refunds: Refunds;
  /** The Temporal UI's codec endpoint; undefined: off (no CODEC_AUTH_TOKEN). */
  codec?: CodecRoutesDeps;
  /** METRICS_TOKEN: /metrics on this port for bearers of it; undefined: not served here. */
  metricsToken?: string;
}

export const JSON_BODY_LIMIT = '64kb';

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? 'loopback');
  app.use(requestLog(deps.logger));
  app.use(securityHeaders({ allowHttpRedirects: !deps.production }));
  const limit = limiters({
    limits: deps.rateLimits ?? DEFAULT_RATE_LIMITS,
    store: deps.rateLimitStore,
    customerLocale: linkCustomerLocale(deps.links),
  });

  // The customers' pages first: the link page is the most requested route, and every layer
  // before it is tried on every view.
  const sessions = createSessionStore(deps.db);
  if (limit.publicPages) app.use(['/l', '/sandbox', '/u'], limit.publicPages);
  app.use(linkQrRoutes(deps.links, deps.publicBaseUrl));
  const providers: ProviderRegistry = deps.sandboxSecret
    ? { sandbox: sandboxProvider(deps.sandboxSecret) }
    : {};
  const directory = deps.paymentProviders;
  const linkPage = linkPageRoutes({
    db: deps.db,
    links: deps.links,
    sessions,
    providers: directory,
    logger: deps.logger,
    views: deps.pageViews,
  });
  app.use(linkPage.router);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([
      isDatabaseReachable(deps.db),
      isTemporalReachable(deps.temporal),
    ]);
    const ready = postgres && temporal;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'unavailable',
      checks: { postgres: postgres ? 'ok' : 'unreachable', temporal: temporal ? 'ok' : 'unreachable' },
    });
  });

  if (deps.metricsToken) app.get('/metrics', metricsHandler(deps.metricsToken));

  app.use(docsRoutes(deps.publicBaseUrl));
  app.use(dashboardRoutes());
  app.use('/v1/callbacks', limit.callbacks);
  if (deps.sandboxSecret)
    app.use(sandboxCheckoutRoutes({ sessions, links: deps.links, secret: deps.sandboxSecret }));
  app.use(unsubscribeRoutes(deps.notifications));
  if (deps.devPeers) app.use(devOutboxRoutes(deps.devPeers));
  // Provider callbacks authenticate by signature, not by API key.
  app.use(
    '/v1/callbacks',
    twilioCallbackRoutes({
      notifications: deps.notifications,
      authToken: deps.twilioAuthToken,
      publicBaseUrl: deps.publicBaseUrl,
    }),
  );
  app.use(
    '/v1/callbacks',
    providerCallbackRoutes({
      providers,
      directory,
      providerEvents: createProviderEvents({
        db: deps.db,
        temporal: deps.temporal,
        links: deps.links,
        sessions,
        recordLatePayment: deps.recordLatePayment,
        logger: deps.logger,
      }),
    }),
  );

  if (deps.codec) {
    // The token-in-path form first: under /codec it would be refused for lack of a header.
    app.use('/codec/t/:token', codecRoutes(deps.codec, deps.logger));
    app.use('/codec', codecRoutes(deps.codec, deps.logger));
  }

  const v1 = express.Router();
  // Before parsing: an unauthenticated body is never read. Only failed attempts are limited.
  v1.use(authenticate(deps.db), limit.failedAuth, requireAccount, limit.account);
  // Before the 64 kB JSON parser: a recipients import is large, streamed (CSV) or parsed under its own cap.
  v1.use('/campaigns', campaignImportRoutes(deps));
  v1.use(express.json({ limit: JSON_BODY_LIMIT }));
  v1.use(
    '/payment_links',
    paymentLinkRoutes({ ...deps, onLinkChanged: (link) => linkPage.pages.forget(link.token) }),
  );
  v1.use('/campaigns', campaignRoutes(deps));
  v1.use(commerceRoutes(deps));
  v1.use(webhookRoutes(deps));
  v1.use(paymentProviderRoutes(deps));
  v1.use(accountRoutes(deps));
  v1.use(paymentRoutes(deps));
  v1.use(analyticsRoutes(deps));
  v1.use('/campaigns', campaignRunRoutes(deps));
  app.use('/v1', v1);

  app.use((req, _res, next) => {
    next(new ApiError(404, 'not_found_error', 'route_not_found', `No route for ${req.method} ${req.path}`));
  });
  app.use(countCallbackFailures);
  app.use(CUSTOMER_PAGE_PATHS, customerPageErrors(deps.logger));
  app.use(errorHandler(deps.logger));
  return app;
}
