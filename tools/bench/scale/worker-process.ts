/**
 * The production worker (`src/worker.ts`) as the scale bench runs it: a process of its own,
 * configured only by environment, its Temporal SDK metrics on a Prometheus listener.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../../src/paths';
import { freePort } from '../../../test/helpers/ports';

/** Prometheus text: sum of a metric's samples whose labels contain every given pair. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
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

export interface WorkerProcess {
  pid: number;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `src/worker.ts` as production runs it: its own process, configured only by environment. It is
 * `node --import tsx`, not the `tsx` launcher, so the pid is the worker's own.
 */
export async function startWorkerProcess(
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
