/** `npm run api`: the API role alone, as production runs it (Temporal and Postgres elsewhere). */
import { DEFAULT_DATABASE_URL } from '../config';
import { loadConfigOrExit } from '../config/startup';
import { createDb } from '../db/knex';
import { createLogger, prettyFor } from '../logger';
import { startMetricsServer } from '../observability/metrics-endpoint';
import { Shutdown } from '../shutdown';
import { connectClient } from '../temporal/connection';
import { temporalAccessOf, temporalConnectionOptions } from '../temporal/connection-options';
import { payloadDataConverter } from '../temporal/payload-codec';
import { composeApi } from './compose';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel, 'paylinks-api', { pretty: prettyFor(config.logFormat) });
const shutdown = new Shutdown(logger);
if (config.payloadCodec.developmentKey)
  logger.warn(
    'PAYLOAD_CODEC_KEYS is unset: Temporal payloads are encrypted with the published development key',
  );
shutdown.onSignals();

const db = createDb(config.databaseUrl ?? DEFAULT_DATABASE_URL, {
  timeouts: config.databaseTimeouts,
  logger,
});
shutdown.add('database pool', () => db.destroy());
const temporal = await connectClient(
  temporalConnectionOptions(
    temporalAccessOf(config.temporal, config.temporal.address ?? `127.0.0.1:${config.temporal.port}`),
  ),
  config.temporal.namespace,
  payloadDataConverter(config.payloadCodec.keys, config.payloadCodec),
  { rpcMs: config.temporal.rpcTimeoutMs, workerMs: config.linkCreateWaitMs },
);
shutdown.add('Temporal client', () => temporal.connection.close());
const app = composeApi({
  db,
  temporal,
  taskQueue: config.temporal.taskQueue,
  publicBaseUrl: config.publicBaseUrl,
  createWaitMs: config.linkCreateWaitMs,
  temporalRpcTimeoutMs: config.temporal.rpcTimeoutMs,
  logger,
  twilioAuthToken: config.notifications.twilio?.authToken,
  sandboxSecret: config.sandboxSecret,
  stripeApiBaseUrl: config.stripeApiBaseUrl,
  secretsKey: config.secretsKey,
  allowPrivateWebhookUrls: config.allowPrivateWebhookUrls,
  rateLimits: config.rateLimits,
  trustProxy: config.trustProxy,
  production: config.env === 'production',
  codec: config.payloadCodec.authToken
    ? {
        keys: config.payloadCodec.keys,
        authToken: config.payloadCodec.authToken,
        corsOrigins: config.payloadCodec.corsOrigins,
      }
    : undefined,
  metricsToken: config.metrics.token,
});
// Stopped in reverse: the server stops taking requests, then the views it counted are written.
shutdown.add('page views', app.drain);
const server = app.listen(config.port, () => logger.info(`API listening on :${config.port}`));
shutdown.add('API server', () => new Promise((done) => server.close(done)));
if (config.metrics.port !== undefined) {
  const metrics = await startMetricsServer({ ...config.metrics, port: config.metrics.port });
  logger.info(`metrics at ${metrics.url}`);
  shutdown.add('metrics listener', metrics.close);
}
