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
import { freePorts } from '../helpers/ports';
import { WAIT_MS, within } from '../helpers/temporal';

let database: TestDatabase | undefined;
let dataDir: string | undefined;
let running: ChildProcess | undefined;
afterAll(async () => {
  // A test that failed half-way must not leave the process tree behind.
  if (running && running.exitCode === null && running.signalCode === null) {
    const gone = new Promise((done) => running?.once('exit', done));
    running.kill('SIGTERM');
    await within(gone, WAIT_MS, 'npm start to exit');
  }
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

/** Up to the banner: the dev server, migrations and the bundling of the workflows, on a loaded machine. */
const START_MS = 90_000;

it('starts everything in one process tree and stops it cleanly on Ctrl-C, even twice', async () => {
  database = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'paylinks-start-'));
  const [port, temporalPort, uiPort] = await freePorts(3);
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
  running = child;
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const banner = await waitForOutput(child, /Ctrl-C stops everything/, START_MS);
  expect(banner).toContain(`http://localhost:${port}`);
  expect(banner).toContain(`Temporal UI  http://127.0.0.1:${uiPort}`);
  expect(banner).toMatch(/npx paylinks accounts create/);

  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
  expect(ui.status).toBe(200);
  // The UI decodes payloads through the API's codec endpoint, with a token made up for this run.
  const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
    Codec: { Endpoint: string };
  };
  expect(settings.Codec.Endpoint).toMatch(new RegExp(`^http://localhost:${port}/codec/t/[\\w-]{40,}$`));
  const clear = {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: 'eyJhIjoxfQ==',
  };
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const encoded = await post(`${settings.Codec.Endpoint}/encode`, { payloads: [clear] });
  expect(encoded.status).toBe(200);
  const decoded = await post(`${settings.Codec.Endpoint}/decode`, await encoded.json());
  expect(await decoded.json()).toEqual({ payloads: [clear] });
  expect((await post(`http://127.0.0.1:${port}/codec/decode`, { payloads: [clear] })).status).toBe(401);
  const devServers = pidsRunning('server', 'start-dev', '--port', String(temporalPort));
  expect(devServers).toHaveLength(1);
  expect(readdirSync(dataDir)).toContain('temporal.db');

  // Ctrl-C twice, as an impatient person (or a wrapper relaying the signal) would.
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  expect(await within(exited, WAIT_MS, 'npm start to exit after Ctrl-C')).toBe(0);
  expect(pidsRunning('server', 'start-dev', '--port', String(temporalPort))).toEqual([]);
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
}, 180_000); // START_MS, then the usual waits
