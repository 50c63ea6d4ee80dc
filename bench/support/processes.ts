/**
 * The roles the bench measures, each in a Node process of its own as production runs them
 * (docker-compose.yml: `npm run api`, `npm run worker`), their output appended to one log file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { PROJECT_ROOT } from '../../src/paths';

export interface Role {
  name: string;
  child: ChildProcess;
  /** SIGTERM (the roles drain and stop on it), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <script>` (one process, no tsx wrapper) with `env`; `nodeArgs` go
 * before it (bench/trace.ts: `--cpu-prof`, which NODE_OPTIONS refuses).
 */
export function startRole(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeArgs: string[] = [],
): Role {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Last resort: whatever way the bench ends, no role outlives it.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    name,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Polls `ready` until it answers true; fails early if the role exits, or after `timeoutMs`. */
export async function untilReady(
  role: Role,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (role.child.exitCode !== null || role.child.signalCode !== null)
      throw new Error(
        `${role.name} exited (${role.child.exitCode ?? role.child.signalCode}); see ${logFile}`,
      );
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${role.name} was not ready within ${timeoutMs} ms; see ${logFile}`);
}

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
