/** `npm run api` as a real process (`tsx src/api/server.ts`), with exactly the environment given. */
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/paths';
import { freePort } from './ports';
import { eventually, WAIT_MS, within } from './temporal';

export interface ApiProcess {
  baseUrl: string;
  stop(): Promise<void>;
}

/** Only what a process needs to run at all: no NODE_ENV or other setting leaks in from vitest. */
const bareEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' });

function spawnServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/api/server.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...bareEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  return { child, output: () => output };
}

/** Starts the API and waits until it answers /healthz. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  const { child, output } = spawnServer({ ...env, PORT: String(port) });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}:\n${output()}`);
      const res = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    WAIT_MS,
    'the API process to answer /healthz',
  );
  return {
    baseUrl,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await within(exited, WAIT_MS, 'the API process to exit');
    },
  };
}

/** Runs the API with a configuration it must refuse: its exit code and what it printed. */
export async function refusedApiStart(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const { child, output } = spawnServer({ ...env, PORT: String(port) });
  const code = await within(
    new Promise<number | null>((done) => child.once('exit', (c) => done(c))),
    WAIT_MS,
    'the API process to refuse its configuration and exit',
  );
  return { code, output: output() };
}
