/**
 * The worker role's telemetry, as `npm run worker` installs it: the Temporal SDK's logs go through
 * our pino logger, the SDK's own Prometheus metrics are served at TEMPORAL_METRICS_BIND, and the
 * worker's counters (its activities') at its own METRICS_PORT listener, behind METRICS_TOKEN.
 * Runtime.install is once per process: this file installs ours and builds its worker itself.
 */
import { Writable } from 'node:stream';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { createChannels } from '../../src/notifications/channels';
import { type MetricsServer, startMetricsServer } from '../../src/observability/metrics-endpoint';
import { payloadDataConverter } from '../../src/temporal/payload-codec';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { createPaylinksWorker, type PaylinksWorker } from '../../src/worker/create-worker';
import { freePort } from '../helpers/ports';
import { PUBLIC_BASE_URL, type Stack, startStack, TEST_NOTIFICATION_CONFIG } from '../helpers/stack';
import { eventually, TEST_CODEC_KEYS, TEST_SECRETS_KEY } from '../helpers/temporal';

const TOKEN = 'worker-metrics-token-0123456789';
const logLines: Record<string, unknown>[] = [];
let sdkMetricsUrl: string;
let stack: Stack;
let metrics: MetricsServer;
let worker: PaylinksWorker;
let running: Promise<void>;
let connection: NativeConnection;
let channels: ReturnType<typeof createChannels>;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger('info', 'paylinks-worker', { destination: sink });
  const port = await freePort();
  sdkMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  installTemporalRuntime({ logger, metricsBind: `127.0.0.1:${port}` });

  stack = await startStack({ worker: false });
  metrics = await startMetricsServer({ host: '127.0.0.1', port: 0, token: TOKEN });
  channels = createChannels(TEST_NOTIFICATION_CONFIG, PUBLIC_BASE_URL, stack.peers);
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await createPaylinksWorker({
    connection,
    namespace: 'default',
    taskQueue: stack.taskQueue,
    db: stack.db,
    email: channels.email,
    sms: channels.sms,
    publicBaseUrl: PUBLIC_BASE_URL,
    ratePerSecond: { email: 100, sms: 100 },
    secretsKey: TEST_SECRETS_KEY,
    dataConverter: payloadDataConverter(TEST_CODEC_KEYS),
    webhookEgress: { allowPrivate: true },
    workflowBundlePath: inject('workflowBundlePath'),
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  channels?.close();
  await metrics?.close();
  await stack?.stop();
});

it("serves the SDK's worker metrics, the worker's own counters, and routes SDK logs through pino", async () => {
  const created = await stack.request('POST', '/v1/payment_links', {
    json: {
      amount: 700,
      currency: 'USD',
      customer: { email: 'wendy.worker@example.com' },
      channels: ['email'],
    },
  });
  expect(created.status).toBe(201);
  await eventually(async () =>
    stack.peers.smtp.messages.find((m) => m.envelopeTo.includes('wendy.worker@example.com'))
      ? true
      : undefined,
  );

  // The SDK's own: task latencies, slots, schedule-to-start, per task queue.
  const sdk = await eventually(async () => {
    const text = await (await fetch(sdkMetricsUrl)).text();
    return text.includes('temporal_activity_execution_latency') ? text : undefined;
  });
  for (const name of [
    'temporal_workflow_task_schedule_to_start_latency',
    'temporal_workflow_task_execution_latency',
    'temporal_activity_schedule_to_start_latency',
    'temporal_activity_execution_latency',
    'temporal_worker_task_slots_available',
  ])
    expect(sdk).toContain(name);
  expect(sdk).toContain(`task_queue="${stack.taskQueue}"`);

  // The worker's counters, at its own listener, for bearers of the token only.
  expect((await fetch(metrics.url)).status).toBe(401);
  const ours = await eventually(async () => {
    const res = await fetch(metrics.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await res.text();
    return /paylinks_messages_total\{channel="email",outcome="sent"\} [1-9]/.test(text) ? text : undefined;
  });
  expect(ours).toMatch(/^paylinks_links_created_total [1-9]/m);

  // SDK log lines arrive as pino JSON, tagged as Temporal's.
  const sdkLine = logLines.find((l) => l.source === 'temporal' && l.sdkComponent === 'worker');
  expect(sdkLine).toMatchObject({ name: 'paylinks-worker', level: 30 });
  expect(JSON.stringify(logLines)).not.toContain('wendy.worker@example.com');
});
