import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import {
  type ActivityInterceptorsFactory,
  DefaultLogger,
  NativeConnection,
  Runtime,
} from '@temporalio/worker';
import { inject } from 'vitest';
import type { Db } from '../../src/db/knex';
import type { EmailSender } from '../../src/notifications/email-sender';
import type { SmsSender } from '../../src/notifications/sms-sender';
import { type CodecKeys, parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { requestIdInterceptor } from '../../src/temporal/request-id-interceptor';
import type { EgressPolicy } from '../../src/webhooks/egress';
import { createPaylinksWorker, type PaylinksWorker } from '../../src/worker/create-worker';
import type { LifecycleSettings } from '../../workflows/payment-link/contract';

let runtimeInstalled = false;
/** Workers log at INFO by default; tests keep warnings and errors only. Once per process. */
export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}

/** Encrypts webhook secrets in tests (what SECRETS_KEY is in production). */
export const TEST_SECRETS_KEY = Buffer.alloc(32, 'paylinks-test-key');

/**
 * Encrypts Temporal payloads in tests (what PAYLOAD_CODEC_KEYS is in production). Fixed: the
 * histories in test/fixtures/histories/3-encrypted-payloads were recorded under it.
 */
export const TEST_CODEC_KEYS_SPEC = `test-k1:${Buffer.alloc(32, 'paylinks-test-codec-k1').toString('base64')}`;
export const TEST_CODEC_KEYS: CodecKeys = parseCodecKeys(TEST_CODEC_KEYS_SPEC);

export const uniqueTaskQueue = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

/** A client as the engine builds one: with the payload codec (`null`: none, to see what Temporal stores). */
export async function testClient(
  codecKeys: CodecKeys | null = TEST_CODEC_KEYS,
  address: string = inject('temporalAddress'),
): Promise<Client> {
  const connection = await Connection.connect({ address });
  // As production wires it (src/temporal/connection.ts): requests are followed into Temporal.
  return new Client({
    connection,
    interceptors: { workflow: [requestIdInterceptor()] },
    ...(codecKeys ? { dataConverter: payloadDataConverter(codecKeys) } : {}),
  });
}

export interface RunningWorker {
  worker: PaylinksWorker;
  stop(): Promise<void>;
}

export interface TestChannels {
  email: EmailSender;
  sms: SmsSender;
  publicBaseUrl: string;
  ratePerSecond?: { email: number; sms: number };
  /** Where webhooks may go; by default anywhere, since test receivers listen on loopback. */
  webhookEgress?: EgressPolicy;
  /** The payload codec's keys; TEST_CODEC_KEYS unless a test rotates them. */
  codecKeys?: CodecKeys;
  /** The sandbox provider's secret, when the stack's API has it on (its late payments are refunded by the worker). */
  sandboxSecret?: string;
  /** A Temporal server of the test's own (other dynamic config) instead of the run's shared one. */
  temporalAddress?: string;
  /** The lifecycle settings of the links the worker makes (a single-link campaign's link). */
  linkSettings?: LifecycleSettings;
  /** Around the lifecycle worker's activities, local ones included (src/worker/create-worker.ts). */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

/** The production worker wiring (real activities, Postgres, SMTP and SMS peers) on the shared bundle. */
export async function startTestWorker(
  db: Db,
  taskQueue: string,
  channels: TestChannels,
): Promise<RunningWorker> {
  installQuietRuntime();
  const connection = await NativeConnection.connect({
    address: channels.temporalAddress ?? inject('temporalAddress'),
  });
  const worker = await createPaylinksWorker({
    connection,
    namespace: 'default',
    taskQueue,
    db,
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: channels.publicBaseUrl,
    ratePerSecond: channels.ratePerSecond ?? { email: 100, sms: 100 },
    secretsKey: TEST_SECRETS_KEY,
    dataConverter: payloadDataConverter(channels.codecKeys ?? TEST_CODEC_KEYS),
    webhookEgress: channels.webhookEgress ?? { allowPrivate: true },
    workflowBundlePath: inject('workflowBundlePath'),
    stripeApiBaseUrl: inject('stripeMockUrl'),
    ...(channels.sandboxSecret ? { sandboxSecret: channels.sandboxSecret } : {}),
    ...(channels.linkSettings ? { linkSettings: channels.linkSettings } : {}),
    ...(channels.activityInterceptors ? { activityInterceptors: channels.activityInterceptors } : {}),
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * How long a test waits for something that must happen. Generous: on a loaded 2-core machine
 * (CI beside another stack, `npm run test:stress`) a wait may take many times its usual
 * seconds, and a test should fail only when the thing never happens. vitest's testTimeout is
 * well above it, so a test that does fail names the condition it waited for.
 */
export const WAIT_MS = 45_000;

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = WAIT_MS,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `promise`, or a failure naming `what` once `timeoutMs` has passed. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
