/**
 * stripe-mock (github.com/stripe/stripe-mock), Stripe's own implementation of its API from the
 * OpenAPI spec, for the test run: found at STRIPE_MOCK_PATH, on PATH or under .tools/, else built
 * there with `go install` (a few seconds). Never a fake: without a binary and without Go, it fails
 * and says how to get one.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { findOnPath } from '../src/temporal/cli-binary';

export const STRIPE_MOCK_MODULE = 'github.com/stripe/stripe-mock@v0.203.0';

const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export async function resolveStripeMock(options: {
  explicitPath: string | undefined;
  toolsDir: string;
  pathEnv?: string;
  onProgress?: (line: string) => void;
}): Promise<string> {
  const { explicitPath, toolsDir, pathEnv = process.env.PATH, onProgress = () => {} } = options;
  if (explicitPath) {
    if (!isExecutable(explicitPath))
      throw new Error(`STRIPE_MOCK_PATH is set to ${explicitPath}, which is not an executable file`);
    return resolve(explicitPath);
  }
  const onPath = findOnPath('stripe-mock', pathEnv);
  if (onPath) return onPath;
  const built = join(resolve(toolsDir), 'stripe-mock');
  if (isExecutable(built)) return built;
  const go = findOnPath('go', pathEnv);
  if (!go) {
    throw new Error(
      `stripe-mock was not found (STRIPE_MOCK_PATH, PATH, .tools/) and Go is not installed to build it: ` +
        `install Go, then GOBIN=${resolve(toolsDir)} go install ${STRIPE_MOCK_MODULE}`,
    );
  }
  onProgress(`Building stripe-mock (${STRIPE_MOCK_MODULE}) into ${resolve(toolsDir)}…`);
  const output: string[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(go, ['install', STRIPE_MOCK_MODULE], {
      env: { ...process.env, PATH: pathEnv, GOBIN: resolve(toolsDir) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    child.on('error', fail);
    child.on('exit', done);
  });
  if (code !== 0 || !isExecutable(built))
    throw new Error(
      `go install ${STRIPE_MOCK_MODULE} failed (exit ${code}):\n${output.join('').slice(-2000)}`,
    );
  return built;
}

export interface RunningStripeMock {
  /** `http://127.0.0.1:<port>`: what STRIPE_API_BASE_URL is set to. */
  baseUrl: string;
  /** stripe-mock's own log: every request it received, with its decoded parameters. */
  logPath: string;
  stop(): Promise<void>;
}

/** Starts stripe-mock on `port` (HTTP, loopback) and waits until it answers. */
export async function startStripeMock(
  binary: string,
  port: number,
  logPath: string,
): Promise<RunningStripeMock> {
  const log = createWriteStream(logPath);
  // Without an HTTPS address it would also take :12112, which parallel runs share.
  const child = spawn(binary, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise<number | null>((done) => child.on('exit', done));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`${baseUrl}/v1/balance`, { headers: { authorization: 'Bearer sk_test_123' } })
      .then((r) => r.status)
      .catch(() => undefined);
    if (status === 200) break;
    if (child.exitCode !== null) throw new Error(`stripe-mock exited with ${child.exitCode}; see ${logPath}`);
    if (Date.now() > deadline) throw new Error(`stripe-mock did not answer on ${baseUrl}; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    logPath,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      log.end();
    },
  };
}
