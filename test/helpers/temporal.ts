import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { type ActivityInterceptorsFactory, DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import type { Db } from '../../src/db/knex';
import { type CodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { requestIdInterceptor } from '../../src/temporal/request-id-interceptor';
import type { LifecycleSettings } from '../../workflows/payment-link/contract';
import { type RunningWorker, startLocalWorker, TEST_CODEC_KEYS, type WorkerChannels } from './local-worker';

let runtimeInstalled = false;
/** Workers log at INFO by default; tests keep warnings and errors only. Once per process. */
export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}

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

/** A worker's channels in a test, and the codec keys it runs with (TEST_CODEC_KEYS unless a test rotates them). */
export interface TestChannels extends WorkerChannels {
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
  return startLocalWorker({
    address: channels.temporalAddress ?? inject('temporalAddress'),
    db,
    taskQueue,
    channels,
    dataConverter: payloadDataConverter(channels.codecKeys ?? TEST_CODEC_KEYS),
    workflowBundlePath: inject('workflowBundlePath'),
    stripeApiBaseUrl: inject('stripeMockUrl'),
    ...(channels.sandboxSecret ? { sandboxSecret: channels.sandboxSecret } : {}),
    ...(channels.linkSettings ? { linkSettings: channels.linkSettings } : {}),
    ...(channels.activityInterceptors ? { activityInterceptors: channels.activityInterceptors } : {}),
  });
}

export {
  type RunningWorker,
  TEST_CODEC_KEYS,
  TEST_CODEC_KEYS_SPEC,
  TEST_SECRETS_KEY,
} from './local-worker';
export { eventually, WAIT_MS, within } from './wait';
