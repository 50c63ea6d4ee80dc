/**
 * `npm start` owns the Temporal dev server it starts: when only the main process dies (SIGKILL),
 * the orphaned dev server is stopped by the next start, which then serves on its own; a port held
 * by an unrelated process is refused with a message saying so; a recorded pid that now belongs to
 * another program is never signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, inject, it } from 'vitest';
import { DEVELOPMENT_PAYLOAD_CODEC_KEYS } from '../../src/config';
import { PROJECT_ROOT } from '../../src/paths';
import { reconcilerScheduleId } from '../../src/reconciler/schedule';
import { connectClient } from '../../src/temporal/connection';
import { commandOf, type DevServerRecord, stopStaleDevServer } from '../../src/temporal/dev-server-owner';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePorts } from '../helpers/ports';
import { eventually, WAIT_MS, within } from '../helpers/temporal';

const START_MS = 90_000;
const PID_FILE = 'temporal-dev-server.json';

const children: ChildProcess[] = [];
const strays: number[] = [];
let database: TestDatabase | undefined;
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await within(exited, WAIT_MS, 'npm start to exit');
  }
  // Only processes this file started, by pid, if a test failed half-way.
  for (const pid of strays.splice(0)) if (commandOf(pid)) process.kill(pid, 'SIGKILL');
});
afterAll(async () => {
  await database?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function npmStart(dataDir: string, ports: number[]): Promise<Started> {
  database ??= await createTestDatabase();
  const [port, temporalPort, uiPort] = ports as [number, number, number];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_CLI_PATH: inject('temporalCliPath'),
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

const untilBanner = (s: Started) =>
  eventually(
    async () => {
      if (s.child.exitCode !== null) throw new Error(`npm start exited:\n${s.output()}`);
      return /Ctrl-C stops everything/.test(s.output()) ? true : undefined;
    },
    START_MS,
    'the npm start banner',
  );

const record = (dataDir: string) =>
  JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as DevServerRecord;

it('stops the dev server an earlier, killed start left behind, and serves on its own', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'paylinks-owner-'));
  dirs.push(dataDir);
  const ports = await freePorts(3);
  const temporalPort = ports[1] as number;

  const first = await npmStart(dataDir, ports);
  await untilBanner(first);
  const orphan = record(dataDir);
  strays.push(orphan.pid);
  expect(orphan.command).toEqual(expect.arrayContaining(['start-dev', '--port', String(temporalPort)]));
  expect(commandOf(orphan.pid)).toEqual(orphan.command);

  // Only the main process dies: its dev server is left running, holding the port.
  first.child.kill('SIGKILL');
  await within(first.exited, WAIT_MS, 'the main process to die');
  expect(commandOf(orphan.pid)).toEqual(orphan.command);

  const second = await npmStart(dataDir, ports);
  await untilBanner(second);
  expect(commandOf(orphan.pid)).toBeUndefined();
  const own = record(dataDir);
  strays.push(own.pid);
  expect(own.pid).not.toBe(orphan.pid);
  expect(own.owner.pid).toBe(second.child.pid);
  expect(commandOf(own.pid)).toEqual(own.command);
  expect((await fetch(`http://127.0.0.1:${ports[0]}/readyz`)).status).toBe(200);
  // The reconciler's schedule, created by the first start, updated in place by this one.
  // npm start without PAYLOAD_CODEC_KEYS: the development key.
  const temporal = await connectClient(
    `127.0.0.1:${temporalPort}`,
    'default',
    payloadDataConverter(parseCodecKeys(DEVELOPMENT_PAYLOAD_CODEC_KEYS)),
  );
  try {
    const { action, spec } = await temporal.schedule
      .getHandle(reconcilerScheduleId('payment-links'))
      .describe();
    expect(action).toMatchObject({
      workflowType: 'reconcileProviderEventsWorkflow',
      taskQueue: 'payment-links',
    });
    expect(spec.intervals).toMatchObject([{ every: 60_000 }]);
  } finally {
    await temporal.connection.close();
  }

  // A clean stop leaves no dev server and no record behind.
  second.child.kill('SIGTERM');
  expect(await within(second.exited, WAIT_MS, 'npm start to exit')).toBe(0);
  expect(commandOf(own.pid)).toBeUndefined();
  expect(() => record(dataDir)).toThrow();
}, 300_000);

it('refuses to start when the Temporal port is held by another process', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'paylinks-owner-'));
  dirs.push(dataDir);
  const ports = await freePorts(3);
  const temporalPort = ports[1] as number;
  const squatter: Server = createServer();
  await new Promise<void>((listening) => squatter.listen(temporalPort, '127.0.0.1', listening));
  try {
    const started = await npmStart(dataDir, ports);
    expect(await within(started.exited, START_MS, 'npm start to give up')).toBe(1);
    expect(started.output()).toContain(
      `port ${temporalPort} (TEMPORAL_PORT) is already in use by another process, not a Temporal dev server Paylinks started`,
    );
    expect(squatter.listening).toBe(true);
  } finally {
    await new Promise((closed) => squatter.close(closed));
  }
}, 120_000);

it('never signals a recorded pid that now runs another program', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'paylinks-owner-'));
  dirs.push(dataDir);
  const other = spawn('sleep', ['600'], { stdio: 'ignore' });
  const pid = other.pid as number;
  strays.push(pid);
  const file = join(dataDir, PID_FILE);
  const recorded: DevServerRecord = {
    pid,
    command: ['/somewhere/temporal', 'server', 'start-dev', '--port', '7233'],
    ports: [7233],
    owner: { pid: 1, command: ['not-running-anymore'] },
    startedAt: new Date().toISOString(),
  };
  writeFileSync(file, JSON.stringify(recorded));
  expect(await stopStaleDevServer(file)).toBe('not_ours');
  expect(commandOf(pid)).toEqual(['sleep', '600']);
  other.kill('SIGKILL');
});
