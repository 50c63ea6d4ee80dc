/**
 * `npm start`: everything a newcomer needs in one process tree: the Temporal dev server (unless
 * TEMPORAL_ADDRESS), Postgres (local, or embedded), migrations, the worker and the API.
 */

import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { composeApi } from './api/compose';
import { loadConfig } from './config';
import { createDb } from './db/knex';
import { migrateLatest } from './db/migrate';
import { resolveDatabase } from './db/resolve';
import { type DevPeers, startDevPeers } from './dev/peers';
import { createLogger, prettyFor } from './logger';
import { createChannels } from './notifications/channels';
import { startMetricsServer } from './observability/metrics-endpoint';
import { TOOLS_DIR } from './paths';
import { ensureReconcilerSchedule } from './reconciler/schedule';
import { Shutdown } from './shutdown';
import { resolveTemporalCli } from './temporal/cli-binary';
import { connectClient } from './temporal/connection';
import { temporalAccessOf, temporalConnectionOptions } from './temporal/connection-options';
import { startDevServer } from './temporal/dev-server';
import { payloadDataConverter } from './temporal/payload-codec';
import { installTemporalRuntime } from './temporal/runtime';
import { createPaylinksWorker } from './worker/create-worker';

const EMBEDDED_POSTGRES_PORT = 54329;

// The only entry point allowed development defaults (sandbox on, private webhook URLs).
const config = loadConfig(process.env, { role: 'all-in-one' });
const dataConverter = payloadDataConverter(config.payloadCodec.keys, config.payloadCodec);
// The dev server's UI has no login to pass a token from: it gets one in its codec endpoint's path.
const codecAuthToken = config.payloadCodec.authToken ?? randomBytes(32).toString('base64url');
const logger = createLogger(config.logLevel, 'paylinks', { pretty: prettyFor(config.logFormat) });
installTemporalRuntime({ logger, metricsBind: config.temporal.metricsBind });
if (config.payloadCodec.plaintext === 'pass')
  logger.warn(
    'PAYLOAD_CODEC_ACCEPT_PLAINTEXT=true: payloads that are not encrypted are taken, including ones forged by anyone who reaches Temporal',
  );
const shutdown = new Shutdown(logger);
shutdown.onSignals();

try {
  let address = config.temporal.address;
  let uiUrl: string | undefined;
  if (!address) {
    const binary = await resolveTemporalCli({
      explicitPath: config.temporal.cliPath,
      toolsDir: TOOLS_DIR,
      onProgress: (line) => logger.info(line),
    });
    logger.info(`starting the Temporal dev server (${binary})`);
    const devServer = await startDevServer({
      binary,
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      dbFile: join(config.dataDir, 'temporal.db'),
      pidFile: join(config.dataDir, 'temporal-dev-server.json'),
      namespace: config.temporal.namespace,
      uiCodecEndpoint: `http://localhost:${config.port}/codec/t/${codecAuthToken}`,
      onLog: (line) => logger.debug({ source: 'temporal' }, line),
    });
    shutdown.add('Temporal dev server', devServer.stop);
    address = devServer.address;
    uiUrl = devServer.uiUrl;
  }

  const database = await resolveDatabase(config.databaseUrl, {
    allowEmbedded: true,
    dataDir: config.dataDir,
    embeddedPort: EMBEDDED_POSTGRES_PORT,
    logger,
  });
  shutdown.add('Postgres', database.stop);
  const applied = await migrateWithoutTimeouts(database.url);
  const db = createDb(database.url, {
    max: database.poolMax,
    // PGlite serves one session at a time: a queued statement is slow, not dead.
    timeouts: database.embedded ? undefined : config.databaseTimeouts,
    logger,
  });
  shutdown.add('database pool', () => db.destroy());
  logger.info(
    applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date',
  );

  let devPeers: DevPeers | undefined;
  if (!config.notifications.smtpUrl || !config.notifications.twilio) {
    if (config.env === 'production')
      throw new Error('SMTP_URL and TWILIO_* must be set when NODE_ENV=production');
    devPeers = await startDevPeers();
    shutdown.add('local SMTP server and SMS endpoint', devPeers.stop);
  }
  const channels = createChannels(config.notifications, config.publicBaseUrl, devPeers);
  shutdown.add('SMTP pool', async () => channels.close());

  const temporalOptions = temporalConnectionOptions(temporalAccessOf(config.temporal, address));
  const connection = await NativeConnection.connect(temporalOptions);
  shutdown.add('worker connection', () => connection.close());
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
    // The outbox drainer (webhooks, closing messages) runs with the worker; PGlite serves one
    // session at a time, so there it polls instead of holding a LISTEN session.
    logger,
    outbox: { listen: !database.embedded },
  });
  const workerDone = worker.run();
  workerDone.catch((err: unknown) => {
    // A worker that dies takes the whole tree down cleanly, dev server included.
    logger.fatal({ err }, 'the worker stopped unexpectedly');
    void shutdown.run().then(() => process.exit(1));
  });
  shutdown.add('worker', async () => {
    worker.shutdown();
    await workerDone;
  });

  const temporal = await connectClient(temporalOptions, config.temporal.namespace, dataConverter, {
    rpcMs: config.temporal.rpcTimeoutMs,
    workerMs: config.linkCreateWaitMs,
  });
  shutdown.add('Temporal client', () => temporal.connection.close());
  await ensureReconcilerSchedule(temporal, { taskQueue: config.temporal.taskQueue, ...config.reconciler });
  const app = composeApi({
    db,
    temporal,
    taskQueue: config.temporal.taskQueue,
    publicBaseUrl: config.publicBaseUrl,
    createWaitMs: config.linkCreateWaitMs,
    temporalRpcTimeoutMs: config.temporal.rpcTimeoutMs,
    logger,
    twilioAuthToken: channels.twilioAuthToken,
    sandboxSecret: config.sandboxSecret,
    stripeApiBaseUrl: config.stripeApiBaseUrl,
    secretsKey: config.secretsKey,
    allowPrivateWebhookUrls: config.allowPrivateWebhookUrls,
    rateLimits: config.rateLimits,
    trustProxy: config.trustProxy,
    production: config.env === 'production',
    codec: {
      keys: config.payloadCodec.keys,
      authToken: codecAuthToken,
      corsOrigins: config.payloadCodec.corsOrigins,
    },
    metricsToken: config.metrics.token,
    // The outbox shows message bodies (and so link URLs): development only.
    devPeers: config.env === 'development' ? devPeers : undefined,
  });
  // Stopped in reverse: the server stops taking requests, then the views it counted are written.
  shutdown.add('page views', app.drain);
  const server: Server = await new Promise((ready) => {
    const s = app.listen(config.port, () => ready(s));
  });
  shutdown.add('API server', () => new Promise((done) => server.close(done)));
  if (config.metrics.port !== undefined) {
    // One process: the API's and the worker's counters are in the same registry.
    const metrics = await startMetricsServer({ ...config.metrics, port: config.metrics.port });
    shutdown.add('metrics listener', metrics.close);
    logger.info(`metrics at ${metrics.url}`);
  }

  const dbHint = database.embedded ? `DATABASE_URL=${database.url} ` : '';
  console.log(
    [
      '',
      'Paylinks is running.',
      `  API          http://localhost:${config.port}   (health: /healthz, readiness: /readyz)`,
      `  Temporal UI  ${uiUrl ? `${uiUrl}   (payloads encrypted; the UI decodes them through the API's /codec)` : `(external server at ${address})`}`,
      ...(devPeers
        ? [
            `  Outbox       http://localhost:${config.port}/dev/outbox   (local SMTP ${devPeers.smtp.url}, local SMS endpoint ${devPeers.twilioBaseUrl})`,
          ]
        : []),
      `  Postgres     ${database.embedded ? `embedded PGlite at ${database.url}` : database.url.replace(/\/\/[^@]*@/, '//')}`,
      '',
      'Get an API key:',
      `  ${dbHint}npx paylinks accounts create "My shop" --json`,
      'Create a link:',
      `  curl -s localhost:${config.port}/v1/payment_links -H "Authorization: Bearer $KEY" \\`,
      `    -H 'Content-Type: application/json' -d '{"amount":1999,"currency":"USD","expires_in":"PT2M"}'`,
      '',
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
} catch (err) {
  logger.fatal({ err }, 'Paylinks could not start');
  await shutdown.run();
  process.exit(1);
}

/**
 * Migrations run on a pool of their own, without the request timeouts: building an index on a
 * large table may rightly take longer than any request should.
 */
async function migrateWithoutTimeouts(databaseUrl: string): Promise<string[]> {
  const db = createDb(databaseUrl, { max: 1 });
  try {
    return await migrateLatest(db);
  } finally {
    await db.destroy();
  }
}
