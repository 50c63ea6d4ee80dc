/**
 * Finds the Temporal CLI, or builds it. Never substitutes anything for a real server: with no
 * binary and no Go toolchain it fails and says how to install one.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export class TemporalCliNotFoundError extends Error {
  override name = 'TemporalCliNotFoundError';
}

export interface ResolveCliOptions {
  /** TEMPORAL_CLI_PATH: used as given, or an error if it is not an executable. */
  explicitPath?: string;
  /** The PATH to search for `temporal` and `go`. */
  pathEnv?: string;
  /** Where a built binary lives (`.tools/` of the project). */
  toolsDir: string;
  /** Progress for a human: the first build takes minutes. */
  onProgress?: (line: string) => void;
}

const isExecutable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export async function resolveTemporalCli(options: ResolveCliOptions): Promise<string> {
  const { explicitPath, pathEnv = process.env.PATH, toolsDir, onProgress = () => {} } = options;
  if (explicitPath) {
    const file = resolve(explicitPath);
    if (!isExecutable(file)) {
      throw new TemporalCliNotFoundError(
        `TEMPORAL_CLI_PATH is set to ${file}, which is not an executable file`,
      );
    }
    return file;
  }
  const onPath = findOnPath('temporal', pathEnv);
  if (onPath) return onPath;
  const built = join(resolve(toolsDir), 'temporal');
  if (isExecutable(built)) return built;

  const go = findOnPath('go', pathEnv);
  if (!go) {
    throw new TemporalCliNotFoundError(
      [
        'The Temporal CLI was not found (TEMPORAL_CLI_PATH, PATH, .tools/) and Go is not installed to build it.',
        'Install one of:',
        `  - Go (https://go.dev/dl/), then: GOBIN=${resolve(toolsDir)} go install ${TEMPORAL_CLI_MODULE}`,
        '  - the Temporal CLI (https://docs.temporal.io/cli), then put `temporal` on PATH or set TEMPORAL_CLI_PATH',
        'or point Paylinks at a running server with TEMPORAL_ADDRESS=host:7233.',
      ].join('\n'),
    );
  }
  await buildTemporalCli(go, resolve(toolsDir), pathEnv, onProgress);
  if (!isExecutable(built)) throw new TemporalCliNotFoundError(`go install finished but ${built} is missing`);
  return built;
}

async function buildTemporalCli(
  go: string,
  toolsDir: string,
  pathEnv: string | undefined,
  onProgress: (line: string) => void,
): Promise<void> {
  onProgress(
    `Building the Temporal CLI (${TEMPORAL_CLI_MODULE}) into ${toolsDir}; the first build takes a few minutes…`,
  );
  const started = Date.now();
  const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], {
    env: { ...process.env, PATH: pathEnv, GOBIN: toolsDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let downloads = 0;
  const output: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      if (line.startsWith('go: downloading')) downloads += 1;
      else onProgress(`  ${line}`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    onProgress(`  …still building (${seconds}s, ${downloads} modules downloaded)`);
  }, 15_000);
  try {
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', fail);
      child.on('exit', done);
    });
    if (code !== 0) {
      throw new TemporalCliNotFoundError(
        `go install ${TEMPORAL_CLI_MODULE} failed (exit ${code}):\n${output.slice(-20).join('\n')}`,
      );
    }
  } finally {
    clearInterval(ticker);
  }
  onProgress(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)}s.`);
}
