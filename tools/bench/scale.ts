/**
 * Scale: many open links held by one worker, and a burst of expiries within one minute.
 *
 *   npm run bench:scale                                         # 10,000 open links, 2,000 expire together
 *   BENCH_SCALE_LINKS=1000 BENCH_SCALE_EXPIRING=200 npm run bench:scale   # a quick run
 *
 * Starts its own Temporal dev server (SQLite file in a temporary directory), a scratch Postgres
 * database, the local SMTP and SMS peers, and the production worker (`src/worker.ts`) as its own
 * process so that its RSS can be read. Links are created through the API's create path
 * (LinkService.create: start the workflow, wait for its update that the row is stored), with no
 * channels: nothing is sent, the figures are the lifecycle's own.
 *
 * Prints and returns: worker, Temporal and Postgres footprints with all links open; then, for the
 * links expiring inside one minute, how late each row turned `expired` (p50/p99), broken down from
 * the workflow histories (timer fired → workflow task → recordChange activity → row).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createAccount } from '../../src/accounts/accounts';
import { createCommerceStores } from '../../src/commerce/stores';
import { DEFAULT_DATABASE_URL, DEVELOPMENT_PAYLOAD_CODEC_KEYS } from '../../src/config';
import { createDb, type Db, dropDatabase, ensureDatabase } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { type DevPeers, startDevPeers } from '../../src/dev/peers';
import { CreatePaymentLinkSchema } from '../../src/links/create-link';
import { createLinkService } from '../../src/links/link-service';
import { createLinkStore } from '../../src/links/link-store';
import { createLogger } from '../../src/logger';
import { PROJECT_ROOT, TOOLS_DIR } from '../../src/paths';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { DEFAULT_LIFECYCLE_SETTINGS } from '../../workflows/payment-link/contract';

const { temporal } = proto;
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export interface ScaleBenchOptions {
  /** Open links in all (default 10,000; BENCH_SCALE_LINKS when run alone). */
  links?: number;
  /** How many of them expire inside the same minute (default 2,000; BENCH_SCALE_EXPIRING). */
  expiring?: number;
  /** Creates in flight at once. */
  concurrency?: number;
  /** Histories read to break the lateness down. */
  historySample?: number;
  /**
   * The dev server's store: memory (default: its RSS then holds every history) or a SQLite file
   * (BENCH_SCALE_TEMPORAL_STORE=file; its size is reported, and it costs the server about three
   * times the CPU per create on this machine).
   */
  temporalStore?: 'file' | 'memory';
  /**
   * Worker options laid over the production ones for the workflow worker (tools/bench/scale-worker-tuning.mjs),
   * e.g. { maxCachedWorkflows: 12000 }; BENCH_SCALE_WORKER_TUNING (JSON) when run alone.
   */
  workerTuning?: Record<string, number>;
  /** Progress lines (stderr when run alone). */
  log?: (line: string) => void;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ScaleBenchFigures {
  machine: { nproc: number; memoryMiB: number; cpuModel: string; loadAverage1m: number; date: string };
  links: number;
  expiring: number;
  create: {
    seconds: number;
    perSecond: number;
    concurrency: number;
    /** CPU milliseconds per link created, by process (Postgres not counted). */
    cpuMsPerLink: { worker: number; temporal: number; client: number };
  };
  atRest: {
    /** The worker process (src/worker.ts) before any link, and with every link open. */
    workerIdleRssMiB: number;
    workerRssMiB: number;
    /** One open link's history: events and encoded bytes. */
    openHistoryEvents: number;
    openHistoryBytes: number;
    /** A freshly started worker with the same links open (empty sticky cache). */
    workerRestartedRssMiB: number;
    /** Workflows the worker held in its sticky cache (temporal_sticky_cache_size). */
    stickyCacheSize: number;
    /** (workerRss − workerRestartedRss) / stickyCacheSize. */
    perCachedWorkflowKiB: number;
    temporalIdleRssMiB: number;
    temporalRssMiB: number;
    /** The dev server's SQLite file (with its WAL): Temporal's persistence. */
    /** null with the store in memory. */
    temporalStoreMiB: number | null;
    perOpenWorkflowStoreKiB: number | null;
    postgresEmptyMiB: number;
    postgresMiB: number;
    perLinkPostgresBytes: number;
  };
  expiry: {
    windowSeconds: number;
    expired: number;
    /** Still open when the bench stopped waiting (60 s after the last expires_at): not in the figures below. */
    notExpiredInTime: number;
    /** expires_at → the row's updated_at (the transaction that wrote `expired`). */
    rowLatenessMs: Distribution;
    /** expires_at → the row's closed_at (the workflow's clock when it closed the link). */
    closedAtLatenessMs: Distribution;
    /** expires_at → first seen `expired` by a poll every POLL_MS (an upper bound). */
    observedLatenessMs: Distribution;
    goalP99Ms: number;
    metGoal: boolean;
    /** CPU milliseconds per expired link over the window, by process (Postgres not counted). */
    cpuMsPerExpiry: { worker: number; temporal: number };
    /** Cores each process used on average from 5 s before the first expiry until the last was seen. */
    coresUsed: { worker: number; temporal: number };
    /** The machine's 1-minute load average as the window ended (other work on the machine included). */
    loadAverage1m: number;
  };
  /** From the histories of a sample of the expired links. */
  breakdown: {
    sample: number;
    timerFiredLateMs: Distribution;
    timerFiredToWorkflowTaskStartMs: Distribution;
    withWorkflowTaskTimeout: number;
    workflowTaskRunMs: Distribution;
    activityScheduleToStartMs: Distribution;
    activityRunMs: Distribution;
  };
  /** The worker's own Temporal metrics over the expiry window (Prometheus, TEMPORAL_METRICS_BIND). */
  workerMetrics: {
    workflowTaskScheduleToStartMeanMs: number;
    workflowTaskExecutionMeanMs: number;
    activityScheduleToStartMeanMs: number;
    workflowSlotsAvailableMin: number;
    activitySlotsAvailableMin: number;
    stickyCacheForcedEvictions: number;
    stickyCacheMisses: number;
    stickyCacheHits: number;
    /**
     * Workflow tasks handled (the count of temporal_workflow_task_replay_latency, which the SDK
     * records for every task); minus stickyCacheHits: tasks that came with the full history (the
     * sticky queue timed out, or the workflow was not cached) and were replayed from the start.
     */
    workflowTasks: number;
  };
  seconds: number;
}

const POLL_MS = 250;
const GOAL_P99_MS = 2000;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function distribution(values: number[]): Distribution {
  // NaN: not measured (e.g. no remote recordChange activity in a lean-lifecycle history).
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return {
    count: sorted.length,
    p50: Math.round(at(0.5)),
    p90: Math.round(at(0.9)),
    p99: Math.round(at(0.99)),
    max: Math.round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** VmRSS of a process, from /proc (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat; 12 and 13 after the comm.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** The `temporal` dev server this process spawned (the helper keeps its child to itself). */
function childPidNamed(comm: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may contain spaces, so split after its closing parenthesis.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === comm && ppid === process.pid) return Number(entry);
    } catch {
      // the process ended while the table was read
    }
  }
  throw new Error(`no child process named ${comm}`);
}

/** RSS settles after allocation bursts: the median of a few readings a second apart. */
async function settledRss(pid: number, readings = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < readings; i++) {
    values.push(rssMiB(pid));
    if (i < readings - 1) await sleep(1000);
  }
  return distribution(values).p50;
}

const fileMiB = (path: string) => {
  let bytes = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      bytes += statSync(path + suffix).size;
    } catch {
      // no WAL yet
    }
  }
  return Math.round((bytes / MiB) * 10) / 10;
};

async function databaseBytes(db: Db): Promise<number> {
  const { rows } = await db.raw<{ rows: { size: string }[] }>(
    'SELECT pg_database_size(current_database()) AS size',
  );
  return Number(rows[0]?.size);
}

function machine(): ScaleBenchFigures['machine'] {
  return {
    nproc: cpus().length,
    memoryMiB: Math.round(totalmem() / MiB),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

/** Runs `task` over `count` indexes with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

// ---------------------------------------------------------------- the worker process

/** Prometheus text: sum of a metric's samples whose labels contain every given pair. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

interface WorkerProcess {
  pid: number;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `src/worker.ts` as production runs it: its own process, configured only by environment. It is
 * `node --import tsx`, not the `tsx` launcher, so the pid is the worker's own.
 */
async function startWorkerProcess(
  env: Record<string, string>,
  log: (l: string) => void,
  tuning?: Record<string, number>,
): Promise<WorkerProcess> {
  const metricsPort = await freePort();
  const preload = tuning ? ['--import', './tools/bench/scale-worker-tuning.mjs'] : [];
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...preload, 'src/worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...env,
      ...(tuning ? { BENCH_SCALE_WORKER_TUNING: JSON.stringify(tuning) } : {}),
      TEMPORAL_METRICS_BIND: `127.0.0.1:${metricsPort}`,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker polling task queue')) resolve();
      for (const line of chunk.toString().split('\n'))
        if (/"level":(50|60)/.test(line)) log(`worker: ${line}`);
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => reject(new Error(`the worker exited with ${code}:\n${output.slice(-4000)}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 120_000);
  await ready.finally(() => clearTimeout(timeout));
  const pid = child.pid as number;
  return {
    pid,
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(killer);
      }
      process.off('exit', killOnExit);
    },
  };
}

// ---------------------------------------------------------------- history breakdown

const ms = (e: HistoryEvent | undefined) =>
  e?.eventTime
    ? Number(e.eventTime.seconds ?? 0) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6)
    : Number.NaN;

interface Breakdown {
  timerFiredLate: number;
  /** Timer fired → the workflow task that closed the link started (sticky or not). */
  wftWait: number;
  wftRun: number;
  activityScheduleToStart: number;
  activityRun: number;
  /** Workflow tasks that timed out between the timer and the close (a sticky queue not polled in time). */
  wftTimeouts: number;
}

/**
 * The lean lifecycle runs `recordChange` as a local activity inside the workflow task that closes
 * the link: the expiry timer is the last TimerFired, and that task is the first one after it.
 */
function localBreakdownOf(events: HistoryEvent[], expiresAtMs: number): Breakdown | undefined {
  const firedAt = events.map((e) => e.eventType).lastIndexOf(EventType.EVENT_TYPE_TIMER_FIRED);
  if (firedAt < 0) return undefined;
  const rest = events.slice(firedAt);
  const startedAt = rest.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
  const completed = rest.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  return {
    timerFiredLate: ms(events[firedAt]) - expiresAtMs,
    wftWait: ms(rest[startedAt]) - ms(events[firedAt]),
    // The task includes the local recordChange: the row is written before it completes.
    wftRun: ms(completed) - ms(rest[startedAt]),
    activityScheduleToStart: Number.NaN,
    activityRun: Number.NaN,
    wftTimeouts: rest
      .slice(0, Math.max(startedAt, 0))
      .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length,
  };
}

/**
 * A link with no channels schedules `recordChange` only to close: the expiry timer is the last
 * TimerFired before it, the workflow task that closed the link is the one between.
 */
function breakdownOf(events: HistoryEvent[], expiresAtMs: number): Breakdown | undefined {
  const record = events.findIndex(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordChange',
  );
  if (record < 0) return localBreakdownOf(events, expiresAtMs);
  const before = events.slice(0, record);
  const lastIndex = (type: number) => before.map((e) => e.eventType).lastIndexOf(type);
  const firedAt = lastIndex(EventType.EVENT_TYPE_TIMER_FIRED);
  const fired = before[firedAt];
  const wftStarted = before[lastIndex(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)];
  const wftCompleted = before[lastIndex(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)];
  const scheduledId = events[record]?.eventId?.toString();
  const after = events.slice(record);
  const started = after.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
      e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduledId,
  );
  const completed = after.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
      e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === scheduledId,
  );
  return {
    timerFiredLate: ms(fired) - expiresAtMs,
    wftWait: ms(wftStarted) - ms(fired),
    wftRun: ms(wftCompleted) - ms(wftStarted),
    // The started event is written when the activity completes, with the time it was handed out.
    activityScheduleToStart: ms(started) - ms(events[record]),
    activityRun: ms(completed) - ms(started),
    wftTimeouts: before
      .slice(firedAt)
      .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length,
  };
}

// ---------------------------------------------------------------- the bench

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
  const temporalDb = join(scratch, 'temporal.db');
  const inMemory = options.temporalStore !== 'file';
  const server = await startDevServer({
    binary: cli,
    port: await freePort(),
    ...(inMemory ? {} : { dbFile: temporalDb }),
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
    const account = await createAccount(db, 'Scale bench shop');
    const links = createLinkStore(db);
    const service = createLinkService({
      temporal: client,
      links,
      taskQueue,
      settings: DEFAULT_LIFECYCLE_SETTINGS,
      createWaitMs: 60_000,
      logger: createLogger('silent'),
      commerce: createCommerceStores(db),
    });
    const merchant = { id: account.accountId, name: 'Scale bench shop', timezone: 'UTC' };
    const create = async (i: number, expiresAt?: Date) => {
      await service.create(
        merchant,
        CreatePaymentLinkSchema.parse({
          amount: 1000 + (i % 9000),
          currency: 'EUR',
          description: `Scale bench link ${i}`,
          reference: `scale-${i}`,
          // No channels: nothing is sent, the figures are the lifecycle's own.
          channels: [],
          ...(expiresAt ? { expires_at: expiresAt.toISOString() } : { expires_in: 'P30D' }),
        }),
      );
    };

    // The long-lived links first; their pace sets when the expiring minute can start.
    const createStart = Date.now();
    const cpuBefore = {
      worker: cpuSeconds(worker.pid),
      temporal: cpuSeconds(temporalPid),
      client: ownCpuSeconds(),
    };
    const long = total - expiring;
    let done = 0;
    const progress = setInterval(() => log(`created ${done}/${total}`), 10_000);
    try {
      await pool(long, concurrency, async (i) => {
        await create(i);
        done++;
      });
      const perMs = Math.max(done, 1) / Math.max(Date.now() - createStart, 1);
      // Room to create the expiring links (with margin) and to measure at rest before the first expires.
      const windowStart = Date.now() + expiring / perMs / 0.6 + 25_000;
      const windowMs = 60_000;
      const expiresAt = (i: number) =>
        new Date(windowStart + Math.floor((i * windowMs) / Math.max(expiring, 1)));
      log(`expiring links: ${new Date(windowStart).toISOString()} + 60 s`);
      await pool(expiring, concurrency, async (i) => {
        await create(long + i, expiresAt(i));
        done++;
      });
    } finally {
      clearInterval(progress);
    }
    const createSeconds = (Date.now() - createStart) / 1000;
    const perLinkCpu = (now: number, before: number) => Math.round(((now - before) * 1000 * 10) / total) / 10;
    const cpuMsPerLink = {
      worker: perLinkCpu(cpuSeconds(worker.pid), cpuBefore.worker),
      temporal: perLinkCpu(cpuSeconds(temporalPid), cpuBefore.temporal),
      client: perLinkCpu(ownCpuSeconds(), cpuBefore.client),
    };
    log(`created ${total} links in ${createSeconds.toFixed(1)} s`);

    // ---- at rest: every link open
    const [firstExpiry] = await db('payment_links')
      .where({ account_id: account.accountId })
      .min<{ min: Date }[]>('expires_at as min');
    const workerRssMiB = await settledRss(worker.pid);
    const temporalRssMiB = await settledRss(temporalPid, 3);
    const atRestMetrics = await worker.metrics();
    const stickyCacheSize = metricSum(atRestMetrics, 'temporal_sticky_cache_size');
    const postgresBytes = await databaseBytes(db);
    const temporalStoreMiB = inMemory ? null : fileMiB(temporalDb);
    // One long-lived link's history: its event count and encoded size (payloads encrypted).
    const [longLived] = await db('payment_links')
      .where({ account_id: account.accountId })
      .orderBy('expires_at', 'desc')
      .limit(1)
      .select<{ id: string }[]>('id');
    const openHistory = longLived ? await client.workflow.getHandle(longLived.id).fetchHistory() : undefined;
    const openHistoryEvents = openHistory?.events?.length ?? 0;
    const openHistoryBytes = openHistory
      ? temporal.api.history.v1.History.encode(openHistory).finish().length
      : 0;
    const restMeasuredBeforeExpiry = Date.now() < new Date(firstExpiry?.min ?? 0).getTime();
    log(
      `at rest: worker ${workerRssMiB} MiB (sticky cache ${stickyCacheSize}), temporal ${temporalRssMiB} MiB, ` +
        `store ${temporalStoreMiB ?? 'in memory'} MiB, postgres ${(postgresBytes / MiB).toFixed(1)} MiB` +
        (restMeasuredBeforeExpiry ? '' : ' (WARNING: expiries had started)'),
    );

    // ---- the expiring minute: poll which rows turned expired, and when
    const expiringRows = await db('payment_links')
      .where({ account_id: account.accountId })
      .where('expires_at', '<', new Date(Date.now() + 86_400_000))
      .select<{ id: string; expires_at: Date }[]>('id', 'expires_at');
    const expiryOf = new Map(expiringRows.map((r) => [r.id, r.expires_at.getTime()]));
    const lastExpiry = Math.max(...expiryOf.values());
    const seen = new Map<string, number>();
    let before = await worker.metrics();
    const windowCpu = () => ({ worker: cpuSeconds(worker?.pid ?? 0), temporal: cpuSeconds(temporalPid) });
    let cpuAtWindow = windowCpu();
    let windowBegan = Date.now();
    const slotsMin = { workflow: Number.POSITIVE_INFINITY, activity: Number.POSITIVE_INFINITY };
    const deadline = lastExpiry + 60_000;
    while (seen.size < expiryOf.size && Date.now() < deadline) {
      const rows = await db('payment_links')
        .where({ account_id: account.accountId, status: 'expired' })
        .select<{ id: string }[]>('id');
      const at = Date.now();
      for (const r of rows) if (!seen.has(r.id)) seen.set(r.id, at);
      if (Date.now() > Math.min(...expiryOf.values()) - 5000) {
        const text = await worker.metrics().catch(() => '');
        if (text) {
          const wf = metricSum(text, 'temporal_worker_task_slots_available', {
            worker_type: 'WorkflowWorker',
          });
          const act = metricSum(text, 'temporal_worker_task_slots_available', {
            worker_type: 'ActivityWorker',
            task_queue: taskQueue,
          });
          slotsMin.workflow = Math.min(slotsMin.workflow, wf);
          slotsMin.activity = Math.min(slotsMin.activity, act);
        }
      } else {
        before = await worker.metrics();
        cpuAtWindow = windowCpu();
        windowBegan = Date.now();
      }
      await sleep(POLL_MS);
    }
    const after = await worker.metrics();
    const cpuAfterWindow = windowCpu();
    const windowWallSeconds = (Date.now() - windowBegan) / 1000;
    const loadDuringWindow = loadavg()[0] ?? 0;
    const expiredRows = await db('payment_links')
      .where({ account_id: account.accountId, status: 'expired' })
      .select<{ id: string; expires_at: Date; closed_at: Date; updated_at: Date }[]>(
        'id',
        'expires_at',
        'closed_at',
        'updated_at',
      );
    const late = (f: (r: (typeof expiredRows)[number]) => number) =>
      distribution(expiredRows.map((r) => f(r) - r.expires_at.getTime()));
    const rowLatenessMs = late((r) => r.updated_at.getTime());
    const closedAtLatenessMs = late((r) => r.closed_at.getTime());
    const observedLatenessMs = distribution(
      [...seen.entries()].map(([id, at]) => at - (expiryOf.get(id) ?? at)),
    );
    log(
      `expired ${expiredRows.length}/${expiryOf.size}: row p50 ${rowLatenessMs.p50} ms p99 ${rowLatenessMs.p99} ms`,
    );

    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricSum(after, name, labels) - metricSum(before, name, labels);
    const mean = (name: string, labels: Record<string, string> = {}) => {
      const count = delta(`${name}_count`, labels);
      // The SDK's Prometheus histograms are in milliseconds (useSecondsForDurations unset).
      return count > 0 ? Math.round((delta(`${name}_sum`, labels) / count) * 10) / 10 : 0;
    };
    if (process.env.BENCH_SCALE_METRICS_DUMP) writeFileSync(process.env.BENCH_SCALE_METRICS_DUMP, after);
    const workerMetrics = {
      workflowTaskScheduleToStartMeanMs: mean('temporal_workflow_task_schedule_to_start_latency'),
      workflowTaskExecutionMeanMs: mean('temporal_workflow_task_execution_latency'),
      activityScheduleToStartMeanMs: mean('temporal_activity_schedule_to_start_latency', {
        task_queue: taskQueue,
      }),
      workflowSlotsAvailableMin: Number.isFinite(slotsMin.workflow) ? slotsMin.workflow : Number.NaN,
      activitySlotsAvailableMin: Number.isFinite(slotsMin.activity) ? slotsMin.activity : Number.NaN,
      stickyCacheForcedEvictions: delta('temporal_sticky_cache_total_forced_eviction'),
      stickyCacheMisses: delta('temporal_sticky_cache_miss'),
      stickyCacheHits: delta('temporal_sticky_cache_hit'),
      workflowTasks: delta('temporal_workflow_task_replay_latency_count'),
    };

    // ---- why: the histories of a sample
    const sample = expiredRows.filter(
      (_, i) => i % Math.max(1, Math.floor(expiredRows.length / historySample)) === 0,
    );
    const parts: Breakdown[] = [];
    await pool(sample.length, 16, async (i) => {
      const row = sample[i];
      if (!row) return;
      const history = await client.workflow.getHandle(row.id).fetchHistory();
      const b = breakdownOf(history.events ?? [], row.expires_at.getTime());
      if (b) parts.push(b);
    });
    const breakdown = {
      sample: parts.length,
      timerFiredLateMs: distribution(parts.map((p) => p.timerFiredLate)),
      timerFiredToWorkflowTaskStartMs: distribution(parts.map((p) => p.wftWait)),
      /** Links whose closing workflow task timed out at least once (sticky queue not polled in time). */
      withWorkflowTaskTimeout: parts.filter((p) => p.wftTimeouts > 0).length,
      workflowTaskRunMs: distribution(parts.map((p) => p.wftRun)),
      activityScheduleToStartMs: distribution(parts.map((p) => p.activityScheduleToStart)),
      activityRunMs: distribution(parts.map((p) => p.activityRun)),
    };

    // ---- a fresh worker with the same open links: nothing cached, what an evicting worker costs
    await worker.stop();
    worker = await startWorkerProcess(workerEnv, log, options.workerTuning);
    await sleep(3000);
    const workerRestartedRssMiB = await settledRss(worker.pid, 3);

    const figures: ScaleBenchFigures = {
      machine: machine(),
      links: total,
      expiring,
      create: {
        seconds: Math.round(createSeconds * 10) / 10,
        perSecond: Math.round(total / createSeconds),
        concurrency,
        cpuMsPerLink,
      },
      atRest: {
        workerIdleRssMiB,
        workerRssMiB,
        workerRestartedRssMiB,
        openHistoryEvents,
        openHistoryBytes,
        stickyCacheSize,
        perCachedWorkflowKiB:
          stickyCacheSize > 0
            ? Math.round(((workerRssMiB - workerRestartedRssMiB) * 1024) / stickyCacheSize)
            : 0,
        temporalIdleRssMiB,
        temporalRssMiB,
        temporalStoreMiB,
        perOpenWorkflowStoreKiB:
          temporalStoreMiB === null ? null : Math.round(((temporalStoreMiB * 1024) / total) * 10) / 10,
        postgresEmptyMiB: Math.round((postgresEmpty / MiB) * 10) / 10,
        postgresMiB: Math.round((postgresBytes / MiB) * 10) / 10,
        perLinkPostgresBytes: Math.round((postgresBytes - postgresEmpty) / total),
      },
      expiry: {
        windowSeconds: Math.round((lastExpiry - Math.min(...expiryOf.values())) / 1000),
        expired: expiredRows.length,
        notExpiredInTime: expiryOf.size - expiredRows.length,
        rowLatenessMs,
        closedAtLatenessMs,
        observedLatenessMs,
        goalP99Ms: GOAL_P99_MS,
        metGoal: expiredRows.length === expiryOf.size && rowLatenessMs.p99 <= GOAL_P99_MS,
        coresUsed: {
          worker: Math.round(((cpuAfterWindow.worker - cpuAtWindow.worker) / windowWallSeconds) * 100) / 100,
          temporal:
            Math.round(((cpuAfterWindow.temporal - cpuAtWindow.temporal) / windowWallSeconds) * 100) / 100,
        },
        loadAverage1m: Math.round(loadDuringWindow * 100) / 100,
        cpuMsPerExpiry: {
          worker:
            Math.round(((cpuAfterWindow.worker - cpuAtWindow.worker) * 1e4) / Math.max(seen.size, 1)) / 10,
          temporal:
            Math.round(((cpuAfterWindow.temporal - cpuAtWindow.temporal) * 1e4) / Math.max(seen.size, 1)) /
            10,
        },
      },
      breakdown,
      workerMetrics,
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

// ---------------------------------------------------------------- run alone

function printFigures(f: ScaleBenchFigures): void {
  const d = (x: Distribution) =>
    `p50 ${x.p50} ms, p90 ${x.p90} ms, p99 ${x.p99} ms, max ${x.max} ms (n=${x.count})`;
  const r = f.atRest;
  console.log(`
Scale: ${f.links} open links, ${f.expiring} expiring within one minute
machine: ${f.machine.nproc} cores (${f.machine.cpuModel}), ${f.machine.memoryMiB} MiB, load ${f.machine.loadAverage1m}, ${f.machine.date}
create: ${f.links} links in ${f.create.seconds} s (${f.create.perSecond}/s, ${f.create.concurrency} in flight); CPU per link: worker ${f.create.cpuMsPerLink.worker} ms, Temporal ${f.create.cpuMsPerLink.temporal} ms, creating client ${f.create.cpuMsPerLink.client} ms

| at rest | figure |
| --- | --- |
| worker RSS, idle → ${f.links} open | ${r.workerIdleRssMiB} → ${r.workerRssMiB} MiB |
| worker RSS, restarted (empty cache) | ${r.workerRestartedRssMiB} MiB |
| one open link's history | ${r.openHistoryEvents} events, ${r.openHistoryBytes} bytes encoded |
| sticky cache | ${r.stickyCacheSize} workflows, ≈ ${r.perCachedWorkflowKiB} KiB each |
| Temporal dev server RSS, idle → open | ${r.temporalIdleRssMiB} → ${r.temporalRssMiB} MiB |
| Temporal store | ${r.temporalStoreMiB === null ? 'in memory (in the RSS above)' : `SQLite file ${r.temporalStoreMiB} MiB (${r.perOpenWorkflowStoreKiB} KiB per open workflow)`} |
| Postgres database | ${r.postgresEmptyMiB} → ${r.postgresMiB} MiB (${r.perLinkPostgresBytes} bytes per link) |

expiry of ${f.expiry.expired} links over ${f.expiry.windowSeconds} s, ${f.expiry.notExpiredInTime} still open 60 s after the last expires_at (goal p99 ≤ ${f.expiry.goalP99Ms} ms: ${f.expiry.metGoal ? 'met' : 'MISSED'})
  CPU per expiry: worker ${f.expiry.cpuMsPerExpiry.worker} ms, Temporal ${f.expiry.cpuMsPerExpiry.temporal} ms; cores used: worker ${f.expiry.coresUsed.worker}, Temporal ${f.expiry.coresUsed.temporal} (load average ${f.expiry.loadAverage1m})
  row updated_at − expires_at: ${d(f.expiry.rowLatenessMs)}
  closed_at − expires_at:      ${d(f.expiry.closedAtLatenessMs)}
  seen by a ${POLL_MS} ms poll:      ${d(f.expiry.observedLatenessMs)}
from ${f.breakdown.sample} histories:
  timer fired − expires_at:    ${d(f.breakdown.timerFiredLateMs)}
  timer fired → task started:  ${d(f.breakdown.timerFiredToWorkflowTaskStartMs)}
  closing task timed out first (sticky queue not polled in time): ${f.breakdown.withWorkflowTaskTimeout} of ${f.breakdown.sample}
  workflow task run:           ${d(f.breakdown.workflowTaskRunMs)}
  recordChange wait:           ${d(f.breakdown.activityScheduleToStartMs)}
  recordChange run:            ${d(f.breakdown.activityRunMs)}
worker metrics over the window: ${JSON.stringify(f.workerMetrics)}
total ${f.seconds} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await runScaleBench({
    links: process.env.BENCH_SCALE_LINKS ? Number(process.env.BENCH_SCALE_LINKS) : undefined,
    expiring: process.env.BENCH_SCALE_EXPIRING ? Number(process.env.BENCH_SCALE_EXPIRING) : undefined,
    workerTuning: process.env.BENCH_SCALE_WORKER_TUNING
      ? JSON.parse(process.env.BENCH_SCALE_WORKER_TUNING)
      : undefined,
    temporalStore: process.env.BENCH_SCALE_TEMPORAL_STORE === 'file' ? 'file' : 'memory',
    log: (line) => console.error(`[scale] ${line}`),
  });
  printFigures(figures);
  if (process.env.BENCH_SCALE_JSON) console.log(JSON.stringify(figures, null, 2));
}
