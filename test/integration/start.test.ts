/**
 * `npm start` as a newcomer runs it: one process tree (Temporal dev server, migrations, worker,
 * API) that answers, then stops on SIGTERM leaving no child process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';

let database: TestDatabase | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Pids whose command line contains every one of `parts`. */
function pidsRunning(...parts: string[]): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return parts.every((p) => cmd.includes(p));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs}ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${output}`)));
  });
}

it('starts everything in one process tree and stops it cleanly on Ctrl-C, even twice', async () => {
  database = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'paylinks-start-'));
  const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
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
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const banner = await waitForOutput(child, /Ctrl-C stops everything/, 90_000);
  expect(banner).toContain(`http://localhost:${port}`);
  expect(banner).toContain(`Temporal UI  http://127.0.0.1:${uiPort}`);
  expect(banner).toMatch(/npx paylinks accounts create/);

  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
  expect(ui.status).toBe(200);
  const devServers = pidsRunning('server', 'start-dev', '--port', String(temporalPort));
  expect(devServers).toHaveLength(1);
  expect(readdirSync(dataDir)).toContain('temporal.db');

  // Ctrl-C twice, as an impatient person (or a wrapper relaying the signal) would.
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(pidsRunning('server', 'start-dev', '--port', String(temporalPort))).toEqual([]);
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
});
