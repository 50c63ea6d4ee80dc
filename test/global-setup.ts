/**
 * Once per test run: a real Temporal dev server (in memory, headless), stripe-mock (Stripe's API),
 * a migrated template database that each test file clones, and the workflow bundle built once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDb, ensureDatabase } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrate';
import { TOOLS_DIR } from '../src/paths';
import { resolveTemporalCli } from '../src/temporal/cli-binary';
import { startDevServer } from '../src/temporal/dev-server';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/payload-codec';
import { WORKFLOWS_PATH } from '../src/worker/create-worker';
import { freePort } from './helpers/ports';
import { resolveStripeMock, startStripeMock } from './stripe-mock';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
    postgresUrl: string;
    templateDatabase: string;
    workflowBundlePath: string;
    /** stripe-mock's address, what STRIPE_API_BASE_URL points the engine at. */
    stripeMockUrl: string;
    /** stripe-mock's log: the requests it received, with their parameters. */
    stripeMockLog: string;
  }
}

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject) {
  const started = Date.now();
  const cliPath = await resolveTemporalCli({
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    toolsDir: TOOLS_DIR,
    onProgress: (line) => console.log(line),
  });
  const stripeMockPath = await resolveStripeMock({
    explicitPath: process.env.STRIPE_MOCK_PATH,
    toolsDir: TOOLS_DIR,
    onProgress: (line) => console.log(line),
  });
  const dir = mkdtempSync(join(tmpdir(), 'paylinks-test-'));
  const [server, bundle, template, stripeMock] = await Promise.all([
    freePort().then((port) => startDevServer({ binary: cliPath, port })),
    // With the failure converter the workers' data converter names (encrypted failure messages).
    bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: quietLogger,
    }),
    createTemplateDatabase(),
    freePort().then((port) => startStripeMock(stripeMockPath, port, join(dir, 'stripe-mock.log'))),
  ]);
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('temporalAddress', server.address);
  project.provide('temporalCliPath', cliPath);
  project.provide('postgresUrl', POSTGRES_URL);
  project.provide('templateDatabase', template);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('stripeMockUrl', stripeMock.baseUrl);
  project.provide('stripeMockLog', stripeMock.logPath);
  console.log(
    `test infrastructure ready in ${Date.now() - started}ms (Temporal at ${server.address}, stripe-mock at ${stripeMock.baseUrl})`,
  );

  return async () => {
    await Promise.all([server.stop(), stripeMock.stop()]);
    await dropDatabase(template);
    rmSync(dir, { recursive: true, force: true });
  };
}

async function createTemplateDatabase(): Promise<string> {
  const name = `paylinks_template_${process.pid}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  await dropDatabase(name);
  await ensureDatabase(url.toString());
  const db = createDb(url.toString());
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }
  return name;
}

async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
