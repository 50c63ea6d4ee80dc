/**
 * Runs `temporal server start-dev` as a child process: the real Temporal server, with SQLite
 * (a file for `npm start`, memory for tests) and the project's search attributes registered.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { assertPortFree, clearRecord, stopStaleDevServer, writeRecord } from './dev-server-owner';
import { searchAttributeFlags } from './search-attributes';

/**
 * Server settings for latency, measured with `npm run bench:trace` (docs/BENCHMARKS.md, "Where a
 * create's and a payment's milliseconds go"). Production sets the same keys in the server's
 * dynamic config (self-hosted; on Temporal Cloud, Temporal manages them).
 * - One partition per task queue, not the server's 4: a single node gains nothing from
 *   partitions, and a task that lands on a partition with no poll waiting is forwarded or waits
 *   for the next poll there. Creates at 50 concurrent callers: +30 % to +64 % (4 pairs of runs).
 * - Eager activity execution: an activity on the worker's own queue (`recordPayments`) comes back
 *   in the response to the workflow task that scheduled it instead of through matching, where it
 *   waited 30–40 ms (schedule to start). Callback → paid p50: 84 → 71 ms and 77 → 45 ms.
 */
const LATENCY_FLAGS = [
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
  'system.enableActivityEagerExecution=true',
].flatMap((value) => ['--dynamic-config-value', value]);

export interface DevServerOptions {
  binary: string;
  port: number;
  /** Omit for a headless server. */
  uiPort?: number;
  /** Omit to keep all state in memory (tests). */
  dbFile?: string;
  namespace?: string;
  /** Where the Web UI asks to decode payloads (the API's /codec endpoint). */
  uiCodecEndpoint?: string;
  startTimeoutMs?: number;
  onLog?: (line: string) => void;
  /**
   * More `--dynamic-config-value` settings, `key=value` (a test's own server with a lower limit,
   * such as `history.maximumSignalsPerExecution=50`).
   */
  dynamicConfig?: string[];
  /**
   * `npm start`: where the server's pid is recorded (in DATA_DIR). A server an earlier start left
   * running is stopped first, and a port held by anything else is refused (dev-server-owner.ts).
   */
  pidFile?: string;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { binary, port, uiPort, dbFile, namespace = 'default', startTimeoutMs = 60_000, onLog } = options;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace];
  args.push('--log-level', 'warn', ...searchAttributeFlags(), ...LATENCY_FLAGS);
  for (const value of options.dynamicConfig ?? []) args.push('--dynamic-config-value', value);
  if (uiPort) args.push('--ui-port', String(uiPort));
  if (uiPort && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  else args.push('--headless');
  if (dbFile) {
    mkdirSync(dirname(dbFile), { recursive: true });
    args.push('--db-filename', dbFile);
  }

  if (options.pidFile) {
    mkdirSync(dirname(options.pidFile), { recursive: true });
    const stale = await stopStaleDevServer(options.pidFile, onLog);
    if (stale === 'stopped') onLog?.('stopped the Temporal dev server of an earlier start');
    await assertPortFree(port, 'TEMPORAL_PORT');
    if (uiPort) await assertPortFree(uiPort, 'TEMPORAL_UI_PORT');
  }

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const { pidFile } = options;
  if (pidFile && child.pid !== undefined) {
    const pid = child.pid;
    writeRecord(pidFile, pid, [binary, ...args], uiPort ? [port, uiPort] : [port]);
    child.once('exit', () => clearRecord(pidFile, pid));
  }
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) onLog?.(line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // Last resort: whatever way this process ends, the server does not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilServing(address, namespace, startTimeoutMs, exited);
  } catch (err) {
    await stopChild(child, exited);
    throw err;
  }
  return {
    address,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    stop: () => stopChild(child, exited),
  };
}

async function waitUntilServing(
  address: string,
  namespace: string,
  timeoutMs: number,
  exited: Promise<number | null>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`temporal server start-dev exited with code ${exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        // The namespace answering means the server is past its own start-up.
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(
    `Temporal dev server at ${address} did not become ready in ${timeoutMs}ms: ${String(lastError)}`,
  );
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}
