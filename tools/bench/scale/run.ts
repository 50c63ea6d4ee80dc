/**
 * The scale run: its own Temporal dev server, a scratch database, the local SMTP and SMS peers and
 * the production worker as a process of its own; every link created, measured at rest, the
 * expiring minute watched, a sample of histories read, then a fresh worker over the same links.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createAccount } from '../../../src/accounts/accounts';
import { DEFAULT_DATABASE_URL, DEVELOPMENT_PAYLOAD_CODEC_KEYS } from '../../../src/config';
import { createDb, type Db, dropDatabase, ensureDatabase } from '../../../src/db/knex';
import { migrateLatest } from '../../../src/db/migrate';
import { type DevPeers, startDevPeers } from '../../../src/dev/peers';
import { TOOLS_DIR } from '../../../src/paths';
import { resolveTemporalCli } from '../../../src/temporal/cli-binary';
import { startDevServer } from '../../../src/temporal/dev-server';
import { parseCodecKeys, payloadDataConverter } from '../../../src/temporal/payload-codec';
import { freePort } from '../../../test/helpers/ports';
import { sampleBreakdowns } from './breakdown';
import { createScaleLinks } from './create-links';
import { watchExpiringMinute } from './expiry-window';
import type { ScaleBenchFigures, ScaleBenchOptions } from './figures';
import { childPidNamed, databaseBytes, fileMiB, MiB, machine, rssMiB, settledRss, sleep } from './proc';
import { metricSum, startWorkerProcess, type WorkerProcess } from './worker-process';

const { History } = proto.temporal.api.history.v1;

/** Footprints with every link open: the worker, Temporal, Postgres, one long-lived link's history. */
async function measureAtRest(o: {
  db: Db;
  client: Client;
  accountId: string;
  worker: WorkerProcess;
  temporalPid: number;
  temporalDb: string | undefined;
  log: (line: string) => void;
}) {
  const { db, accountId } = o;
  const [firstExpiry] = await db('payment_links')
    .where({ account_id: accountId })
    .min<{ min: Date }[]>('expires_at as min');
  const workerRssMiB = await settledRss(o.worker.pid);
  const temporalRssMiB = await settledRss(o.temporalPid, 3);
  const stickyCacheSize = metricSum(await o.worker.metrics(), 'temporal_sticky_cache_size');
  const postgresBytes = await databaseBytes(db);
  const temporalStoreMiB = o.temporalDb === undefined ? null : fileMiB(o.temporalDb);
  // One long-lived link's history: its event count and encoded size (payloads encrypted).
  const [longLived] = await db('payment_links')
    .where({ account_id: accountId })
    .orderBy('expires_at', 'desc')
    .limit(1)
    .select<{ id: string }[]>('id');
  const openHistory = longLived ? await o.client.workflow.getHandle(longLived.id).fetchHistory() : undefined;
  const restMeasuredBeforeExpiry = Date.now() < new Date(firstExpiry?.min ?? 0).getTime();
  o.log(
    `at rest: worker ${workerRssMiB} MiB (sticky cache ${stickyCacheSize}), temporal ${temporalRssMiB} MiB, ` +
      `store ${temporalStoreMiB ?? 'in memory'} MiB, postgres ${(postgresBytes / MiB).toFixed(1)} MiB` +
      (restMeasuredBeforeExpiry ? '' : ' (WARNING: expiries had started)'),
  );
  return {
    workerRssMiB,
    temporalRssMiB,
    stickyCacheSize,
    postgresBytes,
    temporalStoreMiB,
    openHistoryEvents: openHistory?.events?.length ?? 0,
    openHistoryBytes: openHistory ? History.encode(openHistory).finish().length : 0,
  };
}

export async function runScaleBench(options: ScaleBenchOptions = {}): Promise<ScaleBenchFigures> {
  const total = options.links ?? 10_000;
  const expiring = Math.min(options.expiring ?? 2_000, total);
  const concurrency = options.concurrency ?? 64;
  const historySample = Math.min(options.historySample ?? 300, expiring);
  const log = options.log ?? (() => {});
  const began = Date.now();

  const codecKeys = DEVELOPMENT_PAYLOAD_CODEC_KEYS;
  const dataConverter = payloadDataConverter(parseCodecKeys(codecKeys));
  const cli = await resolveTemporalCli({ toolsDir: TOOLS_DIR, onProgress: log });
  const scratch = mkdtempSync(join(tmpdir(), 'paylinks-scale-'));
  const temporalDb = options.temporalStore === 'file' ? join(scratch, 'temporal.db') : undefined;
  const server = await startDevServer({
    binary: cli,
    port: await freePort(),
    ...(temporalDb ? { dbFile: temporalDb } : {}),
  });
  const temporalPid = childPidNamed('temporal');

  const dbUrl = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  dbUrl.pathname = `/paylinks_bench_scale_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(dbUrl.toString());
  const db = createDb(dbUrl.toString(), { max: 20 });
  let peers: DevPeers | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  try {
    await migrateLatest(db);
    peers = await startDevPeers();
    const taskQueue = `bench-scale-${randomBytes(4).toString('hex')}`;
    // Production wiring, local peers: no link has a channel, so nothing reaches them.
    const workerEnv: Record<string, string> = {
      NODE_ENV: 'development',
      DATABASE_URL: dbUrl.toString(),
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      PAYLOAD_CODEC_KEYS: codecKeys,
      SMTP_URL: peers.smtp.url,
      TWILIO_ACCOUNT_SID: peers.twilio.accountSid,
      TWILIO_AUTH_TOKEN: peers.twilio.authToken,
      TWILIO_FROM: peers.smsFrom,
      TWILIO_API_BASE_URL: peers.twilioBaseUrl,
    };
    log('starting the worker process (src/worker.ts)…');
    worker = await startWorkerProcess(workerEnv, log, options.workerTuning);
    await sleep(3000);
    const workerIdleRssMiB = await settledRss(worker.pid, 3);
    const temporalIdleRssMiB = rssMiB(temporalPid);
    const postgresEmpty = await databaseBytes(db);
    log(`idle: worker ${workerIdleRssMiB} MiB, temporal ${temporalIdleRssMiB} MiB`);

    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, dataConverter });
    const { accountId } = await createAccount(db, 'Scale bench shop');
    const create = await createScaleLinks({
      db,
      client,
      taskQueue,
      accountId,
      total,
      expiring,
      concurrency,
      workerPid: worker.pid,
      temporalPid,
      log,
    });
    const rest = await measureAtRest({ db, client, accountId, worker, temporalPid, temporalDb, log });
    const window = await watchExpiringMinute({ db, accountId, taskQueue, worker, temporalPid, log });
    const breakdown = await sampleBreakdowns(client, window.expiredRows, historySample);

    // A fresh worker with the same open links: nothing cached, what an evicting worker costs.
    await worker.stop();
    worker = await startWorkerProcess(workerEnv, log, options.workerTuning);
    await sleep(3000);
    const workerRestartedRssMiB = await settledRss(worker.pid, 3);

    const { temporalStoreMiB, stickyCacheSize, postgresBytes } = rest;
    const figures: ScaleBenchFigures = {
      machine: machine(),
      links: total,
      expiring,
      create,
      atRest: {
        workerIdleRssMiB,
        workerRssMiB: rest.workerRssMiB,
        workerRestartedRssMiB,
        openHistoryEvents: rest.openHistoryEvents,
        openHistoryBytes: rest.openHistoryBytes,
        stickyCacheSize,
        perCachedWorkflowKiB:
          stickyCacheSize > 0
            ? Math.round(((rest.workerRssMiB - workerRestartedRssMiB) * 1024) / stickyCacheSize)
            : 0,
        temporalIdleRssMiB,
        temporalRssMiB: rest.temporalRssMiB,
        temporalStoreMiB,
        perOpenWorkflowStoreKiB:
          temporalStoreMiB === null ? null : Math.round(((temporalStoreMiB * 1024) / total) * 10) / 10,
        postgresEmptyMiB: Math.round((postgresEmpty / MiB) * 10) / 10,
        postgresMiB: Math.round((postgresBytes / MiB) * 10) / 10,
        perLinkPostgresBytes: Math.round((postgresBytes - postgresEmpty) / total),
      },
      expiry: window.expiry,
      breakdown,
      workerMetrics: window.workerMetrics,
      seconds: Math.round((Date.now() - began) / 1000),
    };
    figures.machine.loadAverage1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
    return figures;
  } finally {
    await worker?.stop();
    await connection?.close();
    await db.destroy();
    await peers?.stop();
    await dropDatabase(dbUrl.toString());
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
