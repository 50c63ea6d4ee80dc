import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { inject } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { type ApiWiring, composeApi } from '../../src/api/compose';
import { loadConfig } from '../../src/config';
import type { RateLimits } from '../../src/config/rate-limits';
import { createDb, type Db } from '../../src/db/knex';
import { type DevPeers, startDevPeers } from '../../src/dev/peers';
import { createLogger, type Logger } from '../../src/logger';
import { SIGNATURE_HEADER, signPayload } from '../../src/signing';
import type { CodecKeys } from '../../src/temporal/payload-codec';
import type { EgressPolicy } from '../../src/webhooks/egress';
import { DEFAULT_LIFECYCLE_SETTINGS, type LifecycleSettings } from '../../workflows/payment-link/contract';
import { TEST_ACCOUNT_ZONE } from './clock';
import { createTestDatabase, type TestDatabase } from './database';
import { localChannels } from './local-worker';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';
import {
  eventually,
  type RunningWorker,
  startTestWorker,
  TEST_CODEC_KEYS,
  TEST_SECRETS_KEY,
  testClient,
  uniqueTaskQueue,
  WAIT_MS,
} from './temporal';

export const PUBLIC_BASE_URL = 'https://pay.example.test';
export const SANDBOX_SECRET = 'sandbox-test-secret-0123456789';
/** CODEC_AUTH_TOKEN of the tests' API: the operator's bearer token for /codec/decode. */
export const CODEC_TOKEN = 'codec-test-token-0123456789abcdef0123456789';
/** The Temporal UI's origin as the tests' API allows it (CODEC_CORS_ORIGINS). */
export const UI_ORIGIN = 'http://127.0.0.1:8233';
/**
 * How long link creation waits for the workflow to store the row. Past it the API answers from
 * the terms before the row exists, which would break the tests' read-your-writes: generous, so
 * only the tests that exercise that fallback (with their own, short wait) ever reach it.
 */
export const CREATE_WAIT_MS = 30_000;

export { TEST_NOTIFICATION_CONFIG } from './local-worker';

export interface StackOptions {
  worker?: boolean;
  /** Messages per second per channel (the task-queue rate limits); tests default to 100. */
  ratePerSecond?: { email: number; sms: number };
  createWaitMs?: number;
  settings?: LifecycleSettings;
  /**
   * Webhook egress as production runs it (private addresses refused) with the given resolvers:
   * one for registration (the API), one for delivery (the worker). Default: anything allowed.
   */
  webhookEgress?: { registration: EgressPolicy; delivery: EgressPolicy };
  /** The payload codec's keys for the worker and the API's client; default TEST_CODEC_KEYS. */
  codecKeys?: CodecKeys;
  /**
   * The API and the worker reach Postgres through a TCP proxy (`stack.databaseProxy`) that a
   * test can cut, with the pool timeouts production runs with; `stack.db` stays direct.
   */
  databaseProxy?: boolean;
  /** The API's logger; default silent. Tests that check what is logged pass one they read. */
  logger?: Logger;
  /** A Temporal server of the test file's own (src/temporal/dev-server.ts, other dynamic config). */
  temporalAddress?: string;
  /** The lifecycle settings of links the worker makes (a single-link campaign's); default DEFAULT_LIFECYCLE_SETTINGS. */
  workerLinkSettings?: LifecycleSettings;
  /** Around the worker's activities, local ones included: a test holds a write at a chosen moment. */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** The API's rate limits; default DEFAULT_RATE_LIMITS. */
  rateLimits?: RateLimits;
}

/** A pool for the API and the worker through a cuttable proxy, timed out as in production. */
async function proxiedDatabase(url: string): Promise<{ db: Db; proxy: TcpProxy }> {
  const direct = new URL(url);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  const db = createDb(via.toString(), {
    timeouts: loadConfig({}).databaseTimeouts,
    logger: createLogger('silent'),
  });
  return { db, proxy };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

/**
 * The API as the stack wires it, listening on a random loopback port; tests pass other
 * dependencies (a database or a Temporal that is down) to see how it copes.
 */
export async function listenTestApi(
  wiring: Pick<ApiWiring, 'db' | 'temporal' | 'taskQueue'> & Partial<ApiWiring>,
) {
  const app = composeApi({
    publicBaseUrl: PUBLIC_BASE_URL,
    createWaitMs: CREATE_WAIT_MS,
    logger: createLogger('silent'),
    twilioAuthToken: undefined,
    sandboxSecret: SANDBOX_SECRET,
    secretsKey: TEST_SECRETS_KEY,
    allowPrivateWebhookUrls: true, // the tests' receiver listens on loopback
    production: false,
    stripeApiBaseUrl: inject('stripeMockUrl'),
    codec: { keys: TEST_CODEC_KEYS, authToken: CODEC_TOKEN, corsOrigins: [UI_ORIGIN] },
    ...wiring,
  });
  const server: Server = await new Promise((ready) => {
    const s = app.listen(0, '127.0.0.1', () => ready(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((done) => server.close(() => done()));
      // The page views it counted: written while the database is still there.
      await app.drain().catch(() => undefined);
    },
  };
}

/** API + worker + Postgres + Temporal, all real, on a random port, with one account. */
export async function startStack(options: StackOptions = {}) {
  const database: TestDatabase = await createTestDatabase();
  const proxied = options.databaseProxy ? await proxiedDatabase(database.url) : undefined;
  const serviceDb = proxied?.db ?? database.db;
  const taskQueue = uniqueTaskQueue('stack');
  const temporal: Client = await testClient(options.codecKeys, options.temporalAddress);
  const peers: DevPeers = await startDevPeers();
  const channels = localChannels(peers, PUBLIC_BASE_URL);
  const testChannels = {
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: PUBLIC_BASE_URL,
    sandboxSecret: SANDBOX_SECRET,
    ...(options.ratePerSecond ? { ratePerSecond: options.ratePerSecond } : {}),
    ...(options.webhookEgress ? { webhookEgress: options.webhookEgress.delivery } : {}),
    ...(options.codecKeys ? { codecKeys: options.codecKeys } : {}),
    ...(options.temporalAddress ? { temporalAddress: options.temporalAddress } : {}),
    ...(options.workerLinkSettings ? { linkSettings: options.workerLinkSettings } : {}),
    ...(options.activityInterceptors ? { activityInterceptors: options.activityInterceptors } : {}),
  };
  let worker: RunningWorker | undefined =
    options.worker === false ? undefined : await startTestWorker(serviceDb, taskQueue, testChannels);
  const api = await listenTestApi({
    db: serviceDb,
    temporal,
    taskQueue,
    createWaitMs: options.createWaitMs ?? CREATE_WAIT_MS,
    // A test that shortens the wait for a worker still gives the workflow start its full time:
    // on a loaded machine a start can take longer than that wait (it answered 503).
    temporalRpcTimeoutMs: CREATE_WAIT_MS,
    settings: options.settings ?? { ...DEFAULT_LIFECYCLE_SETTINGS, latePaymentWindowMs: 1000 },
    twilioAuthToken: channels.twilioAuthToken,
    devPeers: peers,
    ...(options.logger ? { logger: options.logger } : {}),
    codec: { keys: options.codecKeys ?? TEST_CODEC_KEYS, authToken: CODEC_TOKEN, corsOrigins: [UI_ORIGIN] },
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.webhookEgress
      ? {
          allowPrivateWebhookUrls: options.webhookEgress.registration.allowPrivate,
          resolveWebhookHost: options.webhookEgress.registration.resolve,
        }
      : {}),
  });
  const { baseUrl } = api;
  const account = await createAccount(database.db, 'Test shop', TEST_ACCOUNT_ZONE);

  async function request<T = any>(
    method: string,
    path: string,
    opts: { json?: unknown; raw?: string; key?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? account.apiKey : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = opts.raw;
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  return {
    baseUrl,
    db: database.db,
    /** For commands run as their own process (the operator CLI). */
    databaseUrl: database.url,
    temporal,
    taskQueue,
    account,
    request,
    /** A browser's form POST (no redirect following: tests read Location). */
    postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
      return fetch(`${baseUrl}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
    },
    /** The sandbox provider's callback, signed as the provider signs it. */
    sandboxCallback(body: string) {
      return fetch(`${baseUrl}/v1/callbacks/sandbox`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signPayload(SANDBOX_SECRET, body),
        },
        body,
      });
    },
    /** Polls an API object until its status is `status`; returns it. */
    untilStatus(path: string, status: string, key?: string) {
      return eventually(
        async () => {
          const r = await request('GET', path, { key });
          return r.body.status === status ? r.body : undefined;
        },
        WAIT_MS,
        `${path} to be ${status}`,
      );
    },
    /** The local SMTP server and SMS endpoint the worker sends to. */
    peers,
    /** Set with `databaseProxy`: the API's and the worker's way to Postgres. */
    databaseProxy: proxied?.proxy,
    twilioAuthToken: channels.twilioAuthToken,
    /** `codecKeys`: the new worker's keys (a rotation), else the stack's. */
    async startWorker(overrides: { codecKeys?: CodecKeys } = {}) {
      worker ??= await startTestWorker(serviceDb, taskQueue, { ...testChannels, ...overrides });
    },
    /** Stops the stack's worker (in-flight tasks drain); startWorker starts a new one. */
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    async stop() {
      await api.close();
      await worker?.stop();
      channels.close();
      await peers.stop();
      await temporal.connection.close();
      await proxied?.db.destroy();
      await proxied?.proxy.close();
      await database.drop();
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;
