import { join } from 'node:path';
import { z } from 'zod';
import { privateWebhooksEnv, resolveAllowPrivateWebhooks } from './config/private-webhooks';
import { type RateLimits, rateLimitEnv, rateLimitsFrom, type TrustProxy } from './config/rate-limits';
import { resolveSandboxSecret, sandboxEnv } from './config/sandbox';
import type { DbTimeouts } from './db/knex';
import { PROJECT_ROOT } from './paths';
import { type CodecKeys, CodecKeysError, parseCodecKeys } from './temporal/payload-codec';

/**
 * Every environment variable Paylinks reads, validated once at start-up.
 * The README's configuration table mirrors this schema.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_BASE_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().min(1).optional(),
  /** A database that does not answer fails a request within about two seconds (503), not 30. */
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(1500),
  DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  DB_QUERY_TIMEOUT_MS: z.coerce.number().int().positive().default(2500),
  /** Local state of `npm start`: the dev server's SQLite file, the embedded Postgres. */
  DATA_DIR: z.string().min(1).default(join(PROJECT_ROOT, '.data')),

  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('payment-links'),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  /** mTLS and API key (Temporal Cloud): PEM text or a file path; see src/temporal/connection-options.ts. */
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** The Temporal SDK's own worker metrics (Prometheus), e.g. 127.0.0.1:9464; unset: off. */
  TEMPORAL_METRICS_BIND: z
    .string()
    .regex(/^[^:]+:\d+$/, 'must be host:port')
    .optional(),
  /** Paylinks' /metrics: a bearer token that opens it on the API port, and/or a separate listener. */
  METRICS_TOKEN: z.string().min(16).optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** The operator CLI's API (`paylinks links …`): where the API is and which account key to use. */
  PAYLINKS_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  PAYLINKS_API_KEY: z.string().min(1).optional(),
  /** pretty: human-readable lines; json: one JSON object a line; default: pretty on a terminal. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** The API's calls to Temporal without a deadline of their own (calls waiting on a worker: LINK_CREATE_WAIT_MS). */
  TEMPORAL_RPC_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),

  SMTP_URL: z.string().min(1).optional(),
  MAIL_FROM: z.string().min(1).default('Paylinks <payments@paylinks.localhost>'),
  DKIM_DOMAIN: z.string().min(1).optional(),
  DKIM_SELECTOR: z.string().min(1).optional(),
  DKIM_PRIVATE_KEY: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM: z.string().min(1).optional(),
  TWILIO_MESSAGING_SERVICE_SID: z.string().min(1).optional(),
  TWILIO_API_BASE_URL: z.url().optional(),
  /** 32 bytes, base64: encrypts the secrets Paylinks must read back (webhook signing secrets). */
  SECRETS_KEY: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  ...privateWebhooksEnv,
  ...sandboxEnv,
  ...rateLimitEnv,
  /** Where the stripe client sends API calls (stripe-mock in tests); unset: Stripe's own API. */
  STRIPE_API_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  EMAIL_PER_SECOND: z.coerce.number().positive().default(20),
  SMS_PER_SECOND: z.coerce.number().positive().default(1),

  /**
   * Encrypts Temporal payloads: `keyid:base64key[,keyid:base64key…]`, 32-byte keys, the first one
   * encrypts, all of them decrypt (rotation: put the new key first, keep the old ones).
   */
  PAYLOAD_CODEC_KEYS: z
    .string()
    .superRefine((spec, ctx) => {
      try {
        parseCodecKeys(spec);
      } catch (err) {
        if (!(err instanceof CodecKeysError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
      }
    })
    .optional(),
  /**
   * `true`: workers (and clients) also take payloads that are not encrypted, for a deployment that
   * still runs links started before the codec. Off by default: a plaintext payload can come from
   * anyone who reaches Temporal (a forged `paymentReceived`), see src/temporal/payload-codec.ts.
   */
  PAYLOAD_CODEC_ACCEPT_PLAINTEXT: z.enum(['true', 'false']).default('false'),
  /** Bearer token for POST /codec/decode|encode (the Temporal UI's codec endpoint); unset: endpoint off. */
  CODEC_AUTH_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Origins allowed to call the codec endpoint from a browser (the Temporal UI), comma-separated. */
  CODEC_CORS_ORIGINS: z.string().min(1).optional(),

  /** How long POST /v1/payment_links waits for the workflow to persist the link before answering anyway. */
  LINK_CREATE_WAIT_MS: z.coerce.number().int().positive().default(10_000),
  /** Between two passes of the reconciler of stored but unapplied provider events. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
  /** How old an unapplied provider event must be before the reconciler applies it. */
  RECONCILE_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
});

/** Development and tests only: production refuses to start without its own SECRETS_KEY. */
const DEVELOPMENT_SECRETS_KEY = Buffer.alloc(32, 'paylinks-development-key').toString('base64');

/** Development and tests only: production refuses to start without its own PAYLOAD_CODEC_KEYS. */
export const DEVELOPMENT_PAYLOAD_CODEC_KEYS = `dev:${Buffer.alloc(32, 'paylinks-development-codec').toString('base64')}`;

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/paylinks';

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  /** Base of every public link URL; defaults to the API's own address. */
  publicBaseUrl: string;
  logLevel: string;
  /** Undefined means "the local default, or an embedded Postgres when none answers". */
  databaseUrl: string | undefined;
  /** The API's and the worker's pool limits (migrations and operator commands run without). */
  databaseTimeouts: DbTimeouts;
  dataDir: string;
  temporal: {
    /** Undefined means "start the dev server ourselves". */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    cliPath: string | undefined;
    port: number;
    uiPort: number;
    tlsCert: string | undefined;
    tlsKey: string | undefined;
    tlsCa: string | undefined;
    tlsServerName: string | undefined;
    apiKey: string | undefined;
    /** host:port for the SDK's Prometheus exporter; undefined: off. */
    metricsBind: string | undefined;
    rpcTimeoutMs: number;
  };
  metrics: MetricsConfig;
  logFormat: 'json' | 'pretty' | undefined;
  /** The operator CLI's view of the API; the URL defaults to this machine's API port. */
  cli: { apiUrl: string; apiKey: string | undefined };
  linkCreateWaitMs: number;
  reconciler: { intervalMs: number; graceMs: number };
  notifications: NotificationConfig;
  secretsKey: Buffer;
  payloadCodec: PayloadCodecConfig;
  allowPrivateWebhookUrls: boolean;
  /** Undefined: the sandbox provider is off (see src/config/sandbox.ts for when it is on). */
  sandboxSecret: string | undefined;
  rateLimits: RateLimits;
  /** Express's `trust proxy` (TRUST_PROXY). */
  trustProxy: TrustProxy;
  /** Undefined: Stripe's own API. */
  stripeApiBaseUrl: string | undefined;
}

export interface PayloadCodecConfig {
  keys: CodecKeys;
  /** PAYLOAD_CODEC_KEYS unset: the development key, which the repository publishes. */
  developmentKey: boolean;
  /** A payload that is not encrypted: refused, or passed (PAYLOAD_CODEC_ACCEPT_PLAINTEXT=true). */
  plaintext: 'refuse' | 'pass';
  /** Undefined: the codec endpoint is off (`npm start` makes one up for its own dev UI). */
  authToken: string | undefined;
  /** Browser origins allowed to call the codec endpoint (the Temporal UI). */
  corsOrigins: string[];
}

export interface MetricsConfig {
  /** Opens /metrics on the API port to `Authorization: Bearer <token>`; undefined: not served there. */
  token: string | undefined;
  /** A listener of its own for /metrics (the worker role's only way to expose its counters). */
  port: number | undefined;
  host: string;
}

export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  from: string | undefined;
  messagingServiceSid: string | undefined;
  apiBaseUrl: string | undefined;
}

export interface NotificationConfig {
  /** Undefined: `npm start` runs a local SMTP server; the worker role refuses to start. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Signs outgoing mail when all three DKIM_* variables are set. */
  dkim?: { domainName: string; keySelector: string; privateKey: string };
  /** Undefined: `npm start` runs a local Messages endpoint; the worker role refuses to start. */
  twilio: TwilioConfig | undefined;
  emailPerSecond: number;
  smsPerSecond: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  /**
   * `all-in-one`: `npm start`, which alone may use development defaults (the sandbox provider on,
   * private webhook URLs allowed) when NODE_ENV is development. Every other entry point is a
   * `service` and gets only what its environment asks for.
   */
  role?: 'all-in-one' | 'service';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.SECRETS_KEY) {
    throw new ConfigError('invalid configuration: SECRETS_KEY is required when NODE_ENV=production');
  }
  if (e.NODE_ENV === 'production' && !e.PUBLIC_BASE_URL) {
    // Every link a customer receives, and every twilio signature, is built on it.
    throw new ConfigError('invalid configuration: PUBLIC_BASE_URL is required when NODE_ENV=production');
  }
  const devDefaults = options.role === 'all-in-one' && e.NODE_ENV === 'development';
  const sandbox = resolveSandboxSecret(e, devDefaults);
  if ('problem' in sandbox) throw new ConfigError(`invalid configuration: ${sandbox.problem}`);
  const privateWebhooks = resolveAllowPrivateWebhooks(e, devDefaults);
  if ('problem' in privateWebhooks)
    throw new ConfigError(`invalid configuration: ${privateWebhooks.problem}`);
  if (e.NODE_ENV === 'production' && !e.PAYLOAD_CODEC_KEYS) {
    // Without it customer data would sit in clear in Temporal's history.
    throw new ConfigError('invalid configuration: PAYLOAD_CODEC_KEYS is required when NODE_ENV=production');
  }
  if (e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN && !e.TWILIO_FROM && !e.TWILIO_MESSAGING_SERVICE_SID) {
    throw new ConfigError(
      'invalid configuration: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required with twilio credentials',
    );
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    databaseTimeouts: {
      connectMs: e.DB_CONNECT_TIMEOUT_MS,
      acquireMs: e.DB_ACQUIRE_TIMEOUT_MS,
      statementMs: e.DB_STATEMENT_TIMEOUT_MS,
      queryMs: e.DB_QUERY_TIMEOUT_MS,
    },
    dataDir: e.DATA_DIR,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      tlsCert: e.TEMPORAL_TLS_CERT,
      tlsKey: e.TEMPORAL_TLS_KEY,
      tlsCa: e.TEMPORAL_TLS_CA,
      tlsServerName: e.TEMPORAL_TLS_SERVER_NAME,
      apiKey: e.TEMPORAL_API_KEY,
      metricsBind: e.TEMPORAL_METRICS_BIND,
      rpcTimeoutMs: e.TEMPORAL_RPC_TIMEOUT_MS,
    },
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT, host: e.METRICS_HOST },
    logFormat: e.LOG_FORMAT,
    cli: {
      apiUrl: (e.PAYLINKS_API_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
      apiKey: e.PAYLINKS_API_KEY,
    },
    linkCreateWaitMs: e.LINK_CREATE_WAIT_MS,
    reconciler: { intervalMs: e.RECONCILE_INTERVAL_MS, graceMs: e.RECONCILE_GRACE_MS },
    allowPrivateWebhookUrls: privateWebhooks.allow,
    secretsKey: Buffer.from(e.SECRETS_KEY ?? DEVELOPMENT_SECRETS_KEY, 'base64'),
    payloadCodec: {
      keys: parseCodecKeys(e.PAYLOAD_CODEC_KEYS ?? DEVELOPMENT_PAYLOAD_CODEC_KEYS),
      developmentKey: !e.PAYLOAD_CODEC_KEYS,
      plaintext: e.PAYLOAD_CODEC_ACCEPT_PLAINTEXT === 'true' ? 'pass' : 'refuse',
      authToken: e.CODEC_AUTH_TOKEN,
      corsOrigins: (
        e.CODEC_CORS_ORIGINS ??
        `http://localhost:${e.TEMPORAL_UI_PORT},http://127.0.0.1:${e.TEMPORAL_UI_PORT}`
      )
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    },
    sandboxSecret: sandbox.secret,
    rateLimits: rateLimitsFrom(e),
    trustProxy: e.TRUST_PROXY,
    stripeApiBaseUrl: e.STRIPE_API_BASE_URL,
    notifications: {
      smtpUrl: e.SMTP_URL,
      mailFrom: e.MAIL_FROM,
      dkim:
        e.DKIM_DOMAIN && e.DKIM_SELECTOR && e.DKIM_PRIVATE_KEY
          ? { domainName: e.DKIM_DOMAIN, keySelector: e.DKIM_SELECTOR, privateKey: e.DKIM_PRIVATE_KEY }
          : undefined,
      twilio:
        e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN
          ? {
              accountSid: e.TWILIO_ACCOUNT_SID,
              authToken: e.TWILIO_AUTH_TOKEN,
              from: e.TWILIO_FROM,
              messagingServiceSid: e.TWILIO_MESSAGING_SERVICE_SID,
              apiBaseUrl: e.TWILIO_API_BASE_URL,
            }
          : undefined,
      emailPerSecond: e.EMAIL_PER_SECOND,
      smsPerSecond: e.SMS_PER_SECOND,
    },
  };
}
