/** `npm run worker`: the worker role alone, as production runs it. */
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_DATABASE_URL } from './config';
import { loadConfigOrExit } from './config/startup';
import { createDb, WORKER_POOL_MAX } from './db/knex';
import { createLogger, prettyFor } from './logger';
import { createChannels } from './notifications/channels';
import { startMetricsServer } from './observability/metrics-endpoint';
import { ensureReconcilerSchedule } from './reconciler/schedule';
import { describeAccess, temporalAccessOf, temporalConnectionOptions } from './temporal/connection-options';
import { payloadDataConverter } from './temporal/payload-codec';
import { installTemporalRuntime } from './temporal/runtime';
import { createPaylinksWorker } from './worker/create-worker';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel, 'paylinks-worker', { pretty: prettyFor(config.logFormat) });
installTemporalRuntime({ logger, metricsBind: config.temporal.metricsBind });
const dataConverter = payloadDataConverter(config.payloadCodec.keys, config.payloadCodec);
if (config.payloadCodec.plaintext === 'pass')
  logger.warn(
    'PAYLOAD_CODEC_ACCEPT_PLAINTEXT=true: payloads that are not encrypted are taken, including ones forged by anyone who reaches Temporal',
  );
if (config.payloadCodec.developmentKey)
  logger.warn(
    'PAYLOAD_CODEC_KEYS is unset: Temporal payloads are encrypted with the published development key',
  );
// The worker role sends for real: it refuses to start without SMTP_URL and twilio credentials.
const channels = createChannels(config.notifications, config.publicBaseUrl);
const db = createDb(config.databaseUrl ?? DEFAULT_DATABASE_URL, {
  max: WORKER_POOL_MAX,
  timeouts: config.databaseTimeouts,
  logger,
});
const temporalOptions = temporalConnectionOptions(
  temporalAccessOf(config.temporal, config.temporal.address ?? `127.0.0.1:${config.temporal.port}`),
);
logger.info(`connecting to Temporal at ${describeAccess(temporalOptions)}`);
const connection = await NativeConnection.connect(temporalOptions);
// The activities' counters live in this process: METRICS_PORT serves them.
const metrics =
  config.metrics.port === undefined
    ? undefined
    : await startMetricsServer({ ...config.metrics, port: config.metrics.port });
if (metrics) logger.info(`metrics at ${metrics.url}`);
const worker = await createPaylinksWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  db,
  email: channels.email,
  sms: channels.sms,
  publicBaseUrl: config.publicBaseUrl,
  ratePerSecond: { email: config.notifications.emailPerSecond, sms: config.notifications.smsPerSecond },
  secretsKey: config.secretsKey,
  dataConverter,
  webhookEgress: { allowPrivate: config.allowPrivateWebhookUrls },
  stripeApiBaseUrl: config.stripeApiBaseUrl,
  sandboxSecret: config.sandboxSecret,
  // The outbox drainer (webhooks, closing messages) runs in this process too.
  logger,
});
await ensureReconcilerSchedule(
  new Client({ connection, namespace: config.temporal.namespace, dataConverter }),
  {
    taskQueue: config.temporal.taskQueue,
    ...config.reconciler,
  },
);
logger.info(`worker polling task queue ${config.temporal.taskQueue}`);
// The SDK drains the worker on SIGINT/SIGTERM; run() resolves once in-flight tasks finished.
await worker.run();
channels.close();
await connection.close();
await metrics?.close();
await db.destroy();
logger.info('worker stopped');
