/**
 * The engine as production runs it, for the fault suite: a Temporal dev server (SQLite file, so
 * its state survives a kill -9), the API role and the worker role, each a real process that the
 * suite may kill. Postgres is a scratch database on the local server; the SMTP and SMS sinks run
 * in this process, outside the engine, so they survive every kill and see every message once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAccount } from '../../src/accounts/accounts';
import { migrateLatest } from '../../src/db/migrate';
import { type DevPeers, startDevPeers } from '../../src/dev/peers';
import { PROJECT_ROOT, TOOLS_DIR } from '../../src/paths';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { searchAttributeFlags } from '../../src/temporal/search-attributes';
import { freePorts } from '../../test/helpers/ports';
import { createScratchDatabase, type ScratchDatabase } from '../../test/helpers/scratch-database';
import type { Target } from './target';
import { GiveUp, until } from './wait';

/** The API and worker run as services here: the sandbox must be switched on with a strong secret. */
export const CHAOS_SANDBOX_SECRET = randomBytes(32).toString('hex');
/** The engine encrypts its workflow payloads; the suite's own client reads them with the same key. */
const CHAOS_CODEC_KEYS = `chaos:${randomBytes(32).toString('base64')}`;
const ADMIN_URL = process.env.CHAOS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Start-up of one role on a loaded machine (the worker bundles the workflows each time). */
const READY_MS = 180_000;

export type { ScratchDatabase };

/** A new, migrated database, dropped at the end of the part. */
export async function scratchDatabase(prefix = 'paylinks_chaos'): Promise<ScratchDatabase> {
  const database = await createScratchDatabase({ adminUrl: ADMIN_URL, prefix });
  try {
    await migrateLatest(database.db);
  } catch (err) {
    await database.drop();
    throw err;
  }
  return database;
}

type Role = 'temporal' | 'api' | 'worker';

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  output: string[];
}

export interface Engine extends Target {
  sinks: DevPeers;
  publicBaseUrl: string;
  twilioAuthToken: string;
  /** SIGKILL of the worker process; returns once a new worker polls again, with the ms it took. */
  killWorker(): Promise<number>;
  /** SIGKILL of every engine process at once (dev server, API, worker); restarts; ms to ready. */
  killAll(): Promise<number>;
  /**
   * SIGKILL of the API process alone; `whileDown` runs once it has exited and before the restart
   * (to look at what it left behind); returns the ms from the restart to ready.
   */
  killApi(whileDown?: () => Promise<void>): Promise<number>;
  /** The last lines each role printed (for a failure report). */
  logs(): Record<Role, string[]>;
  stop(): Promise<void>;
}

export interface EngineOptions {
  /** Settings for the API and the worker on top of the engine's own (e.g. a fast reconciler). */
  env?: Record<string, string>;
}

/**
 * Starts the engine: one API, one worker, one dev server, the production roles (`npm run api`,
 * `npm run worker`) with real SMTP and twilio settings.
 */
export async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  const binary = await resolveTemporalCli({
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    toolsDir: TOOLS_DIR,
    onProgress: (line) => console.error(line),
  });
  const dir = mkdtempSync(join(tmpdir(), 'paylinks-chaos-'));
  const database = await scratchDatabase();
  const sinks = await startDevPeers();
  const [temporalPort, apiPort] = (await freePorts(2)) as [number, number];
  const taskQueue = `chaos-${randomBytes(4).toString('hex')}`;
  const address = `127.0.0.1:${temporalPort}`;
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    PORT: String(apiPort),
    PUBLIC_BASE_URL: baseUrl,
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    SMTP_URL: sinks.smtp.url,
    TWILIO_ACCOUNT_SID: sinks.twilio.accountSid,
    TWILIO_AUTH_TOKEN: sinks.twilio.authToken,
    TWILIO_FROM: sinks.smsFrom,
    TWILIO_API_BASE_URL: sinks.twilioBaseUrl,
    SANDBOX_ENABLED: 'true',
    PAYLOAD_CODEC_KEYS: CHAOS_CODEC_KEYS,
    SANDBOX_SECRET: CHAOS_SANDBOX_SECRET,
    // The load is many customers and one merchant at machine speed: limits would answer most of
    // it with 429 before any handler ran (the limits have their own tests).
    RATE_LIMIT_PUBLIC_PER_MINUTE: '1000000',
    RATE_LIMIT_CALLBACKS_PER_MINUTE: '1000000',
    RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000000',
    EMAIL_PER_SECOND: '200',
    SMS_PER_SECOND: '200',
    ...options.env,
  };
  const tsx = [process.execPath, '--import', 'tsx'];
  const commands: Record<Role, string[]> = {
    temporal: [
      binary,
      ...['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(temporalPort), '--headless'],
      ...['--log-level', 'warn', '--db-filename', join(dir, 'temporal.db'), ...searchAttributeFlags()],
    ],
    api: [...tsx, 'src/api/server.ts'],
    worker: [...tsx, 'src/worker.ts'],
  };
  const running = new Map<Role, Running>();
  const logs: Record<Role, string[]> = { temporal: [], api: [], worker: [] };

  function spawnRole(role: Role): Running {
    const [command, ...args] = commands[role] as [string, ...string[]];
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = logs[role];
    output.length = 0; // this run's lines only: readiness is read from them
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        output.push(line);
        if (output.length > 200) output.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const entry = { child, exited, output };
    running.set(role, entry);
    return entry;
  }
  const killOnExit = () => {
    for (const { child } of running.values()) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  let temporal: Client | undefined;
  const temporalReady = () =>
    until(
      async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
          return true;
        } finally {
          await connection.close();
        }
      },
      READY_MS,
      'the Temporal dev server',
      200,
    );
  const apiReady = (role: Running) =>
    until(
      async () => {
        if (role.child.exitCode !== null)
          throw new GiveUp(`the API exited: ${role.output.slice(-5).join('\n')}`);
        return (await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined;
      },
      READY_MS,
      'the API to be ready',
      100,
    );
  const workerReady = (role: Running, from: number) =>
    until(
      () => {
        if (role.child.exitCode !== null)
          throw new GiveUp(`the worker exited: ${role.output.slice(-5).join('\n')}`);
        return role.output.slice(from).some((l) => l.includes('worker polling task queue'))
          ? true
          : undefined;
      },
      READY_MS,
      'the worker to poll',
      50,
    );

  async function startAll(): Promise<number> {
    const started = Date.now();
    spawnRole('temporal');
    await temporalReady();
    const api = spawnRole('api');
    const worker = spawnRole('worker');
    const from = worker.output.length;
    await Promise.all([apiReady(api), workerReady(worker, from)]);
    return Date.now() - started;
  }

  async function kill(roles: Role[]): Promise<void> {
    const entries = roles.map((r) => running.get(r)).filter((e): e is Running => e !== undefined);
    for (const { child } of entries) child.kill('SIGKILL');
    await Promise.all(entries.map((e) => e.exited));
  }

  try {
    await startAll();
    temporal = new Client({
      connection: await Connection.connect({ address }),
      dataConverter: payloadDataConverter(parseCodecKeys(CHAOS_CODEC_KEYS)),
    });
  } catch (err) {
    killOnExit();
    await sinks.stop();
    await database.drop();
    throw new Error(`the engine did not start: ${String(err)}\n${JSON.stringify(logs).slice(-4000)}`);
  }
  const account = await createAccount(database.db, 'Chaos shop');

  return {
    baseUrl,
    apiKey: account.apiKey,
    accountId: account.accountId,
    db: database.db,
    temporal,
    taskQueue,
    sinks,
    sandboxSecret: CHAOS_SANDBOX_SECRET,
    publicBaseUrl: baseUrl,
    twilioAuthToken: sinks.twilio.authToken,
    async killWorker() {
      await kill(['worker']);
      const started = Date.now();
      const worker = spawnRole('worker');
      await workerReady(worker, 0);
      return Date.now() - started;
    },
    async killAll() {
      await kill(['api', 'worker', 'temporal']);
      return startAll();
    },
    async killApi(whileDown) {
      await kill(['api']);
      await whileDown?.();
      const started = Date.now();
      await apiReady(spawnRole('api'));
      return Date.now() - started;
    },
    logs: () => logs,
    async stop() {
      // A clean stop: SIGTERM lets the worker drain and the API close; the dev server last.
      for (const role of ['api', 'worker', 'temporal'] as const) {
        const entry = running.get(role);
        if (!entry || entry.child.exitCode !== null || entry.child.signalCode !== null) continue;
        entry.child.kill('SIGTERM');
        const force = setTimeout(() => entry.child.kill('SIGKILL'), 15_000);
        await entry.exited;
        clearTimeout(force);
      }
      process.off('exit', killOnExit);
      await temporal?.connection.close();
      await sinks.stop();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
