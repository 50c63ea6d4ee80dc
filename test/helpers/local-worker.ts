/**
 * The production worker wiring (real activities, Postgres, SMTP and SMS peers) in this process,
 * with the tests' keys and channel settings. Free of vitest: the tests (through startTestWorker)
 * and the benches that run a worker in process start it the same way.
 */
import type { DataConverter } from '@temporalio/common';
import { type ActivityInterceptorsFactory, NativeConnection } from '@temporalio/worker';
import type { Db } from '../../src/db/knex';
import type { DevPeers } from '../../src/dev/peers';
import { type Channels, createChannels } from '../../src/notifications/channels';
import type { EmailSender } from '../../src/notifications/email-sender';
import type { SmsSender } from '../../src/notifications/sms-sender';
import { type CodecKeys, parseCodecKeys } from '../../src/temporal/payload-codec';
import type { EgressPolicy } from '../../src/webhooks/egress';
import { createPaylinksWorker, type PaylinksWorker } from '../../src/worker/create-worker';
import type { LifecycleSettings } from '../../workflows/payment-link/contract';

/** Encrypts webhook secrets in tests (what SECRETS_KEY is in production). */
export const TEST_SECRETS_KEY = Buffer.alloc(32, 'paylinks-test-key');

/**
 * Encrypts Temporal payloads in tests (what PAYLOAD_CODEC_KEYS is in production). Fixed: the
 * histories in test/fixtures/histories/3-encrypted-payloads were recorded under it.
 */
export const TEST_CODEC_KEYS_SPEC = `test-k1:${Buffer.alloc(32, 'paylinks-test-codec-k1').toString('base64')}`;
export const TEST_CODEC_KEYS: CodecKeys = parseCodecKeys(TEST_CODEC_KEYS_SPEC);

/** No real providers: the worker sends to the local SMTP server and SMS endpoint. */
export const TEST_NOTIFICATION_CONFIG = {
  smtpUrl: undefined,
  mailFrom: 'Test shop <billing@shop.test>',
  twilio: undefined,
  emailPerSecond: 100,
  smsPerSecond: 100,
};

/** Email and SMS senders to the local peers (`startDevPeers`), as the tests' stack wires them. */
export const localChannels = (peers: DevPeers, publicBaseUrl: string): Channels =>
  createChannels(TEST_NOTIFICATION_CONFIG, publicBaseUrl, peers);

export interface RunningWorker {
  worker: PaylinksWorker;
  stop(): Promise<void>;
}

export interface WorkerChannels {
  email: EmailSender;
  sms: SmsSender;
  publicBaseUrl: string;
  ratePerSecond?: { email: number; sms: number };
  /** Where webhooks may go; by default anywhere, since test receivers listen on loopback. */
  webhookEgress?: EgressPolicy;
}

export interface LocalWorkerOptions {
  /** The Temporal server's host:port. */
  address: string;
  db: Db;
  taskQueue: string;
  channels: WorkerChannels;
  /** The payload codec (payloadDataConverter), or `{}` for none. */
  dataConverter: DataConverter;
  /** A prebuilt workflow bundle; without one the worker bundles workflows/ itself. */
  workflowBundlePath?: string;
  /** Where the worker's Stripe calls go (the tests' stripe-mock). */
  stripeApiBaseUrl?: string;
  /** The sandbox provider's secret, when the API has it on (its late payments are refunded by the worker). */
  sandboxSecret?: string;
  /** The lifecycle settings of the links the worker makes (a single-link campaign's link). */
  linkSettings?: LifecycleSettings;
  /** Around the lifecycle worker's activities, local ones included. */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

/** Starts the worker on a connection of its own; `stop()` drains it and closes the connection. */
export async function startLocalWorker(options: LocalWorkerOptions): Promise<RunningWorker> {
  const { channels } = options;
  const connection = await NativeConnection.connect({ address: options.address });
  const worker = await createPaylinksWorker({
    connection,
    namespace: 'default',
    taskQueue: options.taskQueue,
    db: options.db,
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: channels.publicBaseUrl,
    ratePerSecond: channels.ratePerSecond ?? { email: 100, sms: 100 },
    secretsKey: TEST_SECRETS_KEY,
    dataConverter: options.dataConverter,
    webhookEgress: channels.webhookEgress ?? { allowPrivate: true },
    ...(options.workflowBundlePath ? { workflowBundlePath: options.workflowBundlePath } : {}),
    ...(options.stripeApiBaseUrl ? { stripeApiBaseUrl: options.stripeApiBaseUrl } : {}),
    ...(options.sandboxSecret ? { sandboxSecret: options.sandboxSecret } : {}),
    ...(options.linkSettings ? { linkSettings: options.linkSettings } : {}),
    ...(options.activityInterceptors ? { activityInterceptors: options.activityInterceptors } : {}),
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
