/**
 * `npm run bench`: the engine's figures, each beside a baseline measured in the same run.
 *
 *   npm run bench                       # its own dev server and scratch database; about 5 minutes
 *   BENCH_ROUND_SECONDS=1 BENCH_ROUNDS=2 BENCH_PAYMENTS=10 npm run bench    # a quicker, noisier run
 *
 * The API (`src/api/server.ts`) and the worker (`src/worker.ts`) run as production runs them:
 * processes of their own, NODE_ENV=production with its settings, the payload codec on, on a
 * Temporal dev server (TEMPORAL_ADDRESS: a running one) and a scratch database on DATABASE_URL's
 * server. Rate limits are set out of reach (they still run on every request) so that one client
 * address is not refused. Measured:
 *
 * - create: `POST /v1/payment_links` over HTTP against `client.workflow.start` of a trivial
 *   workflow on the same server (its worker a process of its own), with the same closed-loop
 *   driver at each concurrency, in alternating rounds;
 * - the public page `GET /l/:token` against bare `node:http` serving the same bytes (autocannon);
 * - a signed sandbox payment callback until the link is `paid` in Postgres;
 * - the canonical lifecycle's billable actions and history events (tools/bench/support/lifecycle.ts);
 * - tools/bench/scale.ts's `runScaleBench`, when that file exists.
 *
 * Prints one table and writes the whole result to tools/bench/results/<date>.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAccount } from '../../src/accounts/accounts';
import { createDb } from '../../src/db/knex';
import { PROJECT_ROOT } from '../../src/paths';
import { SIGNATURE_HEADER, signPayload } from '../../src/signing';
import { connectClient } from '../../src/temporal/connection';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { freePort } from '../../test/helpers/ports';
import { keepAliveHttp, workflowQueuePolled } from './support/http';
import { startBenchInfra } from './support/infra';
import { type LifecycleHistory, measureLifecycleHistory } from './support/lifecycle';
import { alternate, cannon, closedLoop, type Figures, percentile } from './support/load';
import {
  productionRoles,
  RATE_LIMITS_OUT_OF_REACH,
  type Role,
  startRole,
  untilReady,
} from './support/processes';
import { type BenchFigures, benchRows, machine, printBenchTable } from './table';

const ROUND_MS = Number(process.env.BENCH_ROUND_SECONDS ?? 3) * 1000;
// Even: each side goes first in half the rounds.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP_MS = 1500;
const CONCURRENCIES = [1, 10, 20, 50];
const PAGE_CONNECTIONS = 10;
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 40);
const PAYMENT_WARMUP = 3;
/** Far above anything the bench sends: the limiters still run, they never refuse. */
/** The same deadlines the API's client runs with (TEMPORAL_RPC_TIMEOUT_MS, LINK_CREATE_WAIT_MS defaults). */
const CLIENT_TIMEOUTS = { rpcMs: 3000, workerMs: 10_000 };

const CREATE_BODY = JSON.stringify({ amount: 1999, currency: 'USD', description: 'Order 1042' });
const PAGE_LINK_BODY = JSON.stringify({
  amount: 1999,
  currency: 'USD',
  description: 'Order 1042',
  customer: { name: 'Ada Lovelace' },
});

const elapsedS = (since: number) => ((performance.now() - since) / 1000).toFixed(0);
const started = performance.now();
const log = (line: string) => console.error(`[bench ${elapsedS(started).padStart(3)} s] ${line}`);
const { request: http, destroy: closeSockets } = keepAliveHttp(256);

async function main() {
  // The lifecycle's in-process worker: its routine warnings (channel queues poll no workflows) are noise here.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const date = new Date();
  const loadStart = loadavg();
  log(`load average at start: ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);
  const infra = await startBenchInfra();
  const roles: Role[] = [];
  try {
    log(
      `Temporal at ${infra.temporalAddress}, scratch database ${new URL(infra.databaseUrl).pathname.slice(1)}`,
    );
    // Production's settings: every secret its own, the codec on, the defaults for everything else.
    const { apiUrl, suffix, taskQueue, codecKeys, sandboxSecret, env } = await productionRoles(
      infra,
      'bench',
      {
        logLevel: process.env.BENCH_LOG_LEVEL,
        overrides: RATE_LIMITS_OUT_OF_REACH,
      },
    );
    const trivialQueue = `bench-trivial-${suffix}`;
    const logFile = join(tmpdir(), `paylinks-bench-${date.toISOString().replace(/[:.]/g, '-')}.log`);
    log(`the roles' logs: ${logFile}`);
    const start = (name: string, script: string, extra: NodeJS.ProcessEnv = {}) => {
      const role = startRole(name, script, { ...env, ...extra }, logFile);
      roles.push(role);
      infra.add(name, role.stop);
      return role;
    };
    const api = start('API', 'src/api/server.ts');
    const worker = start('worker', 'src/worker.ts');
    const trivialWorker = start('trivial worker', 'tools/bench/support/trivial-worker.ts', {
      BENCH_TRIVIAL_QUEUE: trivialQueue,
    });

    // The baseline's client: the API's settings (codec, deadlines), in the load generator.
    const client: Client = await connectClient(
      infra.temporalAddress,
      'default',
      payloadDataConverter(parseCodecKeys(codecKeys)),
      CLIENT_TIMEOUTS,
    );
    infra.add('Temporal client', () => client.connection.close());
    const polled = (queue: string) => workflowQueuePolled(client, queue);
    await Promise.all([
      untilReady(api, async () => (await http('GET', `${apiUrl}/readyz`)).status === 200, 90_000, logFile),
      untilReady(worker, () => polled(taskQueue), 180_000, logFile),
      untilReady(trivialWorker, () => polled(trivialQueue), 180_000, logFile),
    ]);
    log('API, worker and trivial worker ready');

    const db = createDb(infra.databaseUrl);
    infra.add('database pool', () => db.destroy());
    const account = await createAccount(db, 'Bench shop');
    const auth = { authorization: `Bearer ${account.apiKey}`, 'content-type': 'application/json' };

    async function createLink(body = CREATE_BODY): Promise<{ id: string; url: string }> {
      const res = await http('POST', `${apiUrl}/v1/payment_links`, { body, headers: auth });
      if (res.status !== 201) throw new Error(`HTTP ${res.status}`);
      return JSON.parse(res.body.toString());
    }
    let starts = 0;
    let lastStart: string | undefined;
    async function rawStart(): Promise<void> {
      const workflowId = `bench-trivial-${suffix}-${++starts}`;
      await client.workflow.start('benchTrivial', { taskQueue: trivialQueue, workflowId });
      lastStart = workflowId;
    }
    /** The trivial workflows started are run before the next segment, outside the timing. */
    async function drainStarts() {
      if (!lastStart) return;
      await client.workflow
        .getHandle(lastStart)
        .result()
        .catch(() => {});
    }

    // 1. Create against raw start.
    const create: Record<number, { create: Figures; start: Figures }> = {};
    await closedLoop(() => createLink().then(() => {}), { concurrency: 10, durationMs: 2 * WARMUP_MS });
    await closedLoop(rawStart, { concurrency: 10, durationMs: 2 * WARMUP_MS });
    await drainStarts();
    for (const concurrency of CONCURRENCIES) {
      log(`create vs workflow.start at concurrency ${concurrency}`);
      await closedLoop(() => createLink().then(() => {}), { concurrency, durationMs: WARMUP_MS });
      await closedLoop(rawStart, { concurrency, durationMs: WARMUP_MS });
      await drainStarts();
      create[concurrency] = await alternate(
        {
          create: () => closedLoop(() => createLink().then(() => {}), { concurrency, durationMs: ROUND_MS }),
          start: () => closedLoop(rawStart, { concurrency, durationMs: ROUND_MS }),
        },
        ROUNDS,
        (side) => (side === 'start' ? drainStarts() : Promise.resolve()),
      );
    }

    // 2. The public page against bare node:http serving its bytes.
    log('public page vs bare node:http');
    const pageLink = await createLink(PAGE_LINK_BODY);
    const pagePath = new URL(pageLink.url).pathname;
    const served = await http('GET', `${apiUrl}${pagePath}`);
    if (served.status !== 200) throw new Error(`GET ${pagePath} answered ${served.status}`);
    const bodyFile = join(tmpdir(), `paylinks-bench-page-${suffix}.html`);
    writeFileSync(bodyFile, served.body);
    const barePort = await freePort();
    const bareUrl = `http://127.0.0.1:${barePort}/`;
    const bare = start('bare node:http', 'tools/bench/support/bare-server.ts', {
      PORT: String(barePort),
      BARE_BODY_FILE: bodyFile,
      BARE_CONTENT_TYPE: String(served.headers['content-type']),
    });
    await untilReady(bare, async () => (await http('GET', bareUrl)).status === 200, 60_000, logFile);
    const pageSides = {
      page: () => cannon(`${apiUrl}${pagePath}`, { connections: PAGE_CONNECTIONS, durationMs: ROUND_MS }),
      bare: () => cannon(bareUrl, { connections: PAGE_CONNECTIONS, durationMs: ROUND_MS }),
    };
    await cannon(`${apiUrl}${pagePath}`, { connections: PAGE_CONNECTIONS, durationMs: WARMUP_MS });
    await cannon(bareUrl, { connections: PAGE_CONNECTIONS, durationMs: WARMUP_MS });
    const page = await alternate(pageSides, ROUNDS);
    await bare.stop();

    // 3. A signed payment callback until the link is paid in Postgres.
    log(`payment callback → paid, ${PAYMENTS} payments one at a time`);
    const ack: number[] = [];
    const paid: number[] = [];
    let paymentFailures = 0;
    for (let i = 0; i < PAYMENTS + PAYMENT_WARMUP; i++) {
      const link = await createLink();
      const token = new URL(link.url).pathname;
      const pay = await http('POST', `${apiUrl}${token}/pay`, {
        body: '',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const location = String(pay.headers.location ?? '');
      const sessionId = /\/sandbox\/checkout\/([^/?#]+)/.exec(location)?.[1];
      if (pay.status !== 303 || !sessionId) throw new Error(`Pay answered ${pay.status} ${location}`);
      const body = JSON.stringify({
        id: `evt_bench_${suffix}_${i}`,
        type: 'payment.succeeded',
        data: {
          session_id: sessionId,
          payment_id: `sbx_bench_${suffix}_${i}`,
          amount: 1999,
          currency: 'USD',
        },
      });
      const t0 = performance.now();
      const res = await http('POST', `${apiUrl}/v1/callbacks/sandbox`, {
        body,
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(sandboxSecret, body) },
      });
      const acked = performance.now() - t0;
      let paidAfter: number | undefined;
      if (res.status === 200) {
        while (performance.now() - t0 < 30_000) {
          const row = await db('payment_links').where({ id: link.id }).first('status');
          if (row?.status === 'paid') {
            paidAfter = performance.now() - t0;
            break;
          }
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      if (i < PAYMENT_WARMUP) continue;
      if (paidAfter === undefined) paymentFailures += 1;
      else {
        ack.push(acked);
        paid.push(paidAfter);
      }
    }
    const callback = {
      count: paid.length,
      failures: paymentFailures,
      ackP50: percentile(ack, 50),
      ackP99: percentile(ack, 99),
      paidP50: percentile(paid, 50),
      paidP99: percentile(paid, 99),
    };

    // 4. The canonical lifecycle's history (its own worker and task queue, same server and database).
    log('canonical lifecycle history');
    const history: LifecycleHistory = await measureLifecycleHistory({
      address: infra.temporalAddress,
      databaseUrl: infra.databaseUrl,
    });

    // 5. The scale run, when tools/bench/scale.ts exists.
    let scale: unknown;
    const scaleFile = fileURLToPath(new URL('./scale.ts', import.meta.url));
    if (existsSync(scaleFile)) {
      log('scale run (tools/bench/scale.ts)');
      const module = await import(pathToFileURL(scaleFile).href);
      if (typeof module.runScaleBench === 'function') {
        // A failed scale run is reported as such; the figures above are kept.
        scale = await module
          .runScaleBench({
            temporalAddress: infra.temporalAddress,
            databaseUrl: infra.databaseUrl,
            apiUrl,
            apiKey: account.apiKey,
            accountId: account.accountId,
            taskQueue,
            sandboxSecret,
            payloadCodecKeys: codecKeys,
            client,
            log,
          })
          .catch((err: unknown) => ({ failed: String(err instanceof Error ? (err.stack ?? err) : err) }));
      } else log('tools/bench/scale.ts exports no runScaleBench: scale run skipped');
    } else log('tools/bench/scale.ts is absent: scale run skipped');

    const figures: BenchFigures = {
      concurrencies: CONCURRENCIES,
      pageConnections: PAGE_CONNECTIONS,
      create,
      page,
      callback,
      history,
    };
    const rows = benchRows(figures);

    const loadEnd = loadavg();
    const result = {
      date: date.toISOString(),
      durationSeconds: Math.round((performance.now() - started) / 1000),
      machine: { ...machine(), loadAverageAtStart: loadStart, loadAverageAtEnd: loadEnd },
      settings: {
        roundSeconds: ROUND_MS / 1000,
        rounds: ROUNDS,
        concurrencies: CONCURRENCIES,
        pageConnections: PAGE_CONNECTIONS,
        payments: PAYMENTS,
        temporal: process.env.TEMPORAL_ADDRESS ? 'external' : 'dev server (in memory)',
        logLevel: env.LOG_LEVEL,
      },
      create,
      page,
      callback,
      history: {
        billableActions: history.billableActions,
        historyEvents: history.historyEvents,
        byType: history.byType,
      },
      scale: scale ?? null,
      table: rows,
    };
    const resultsDir = join(PROJECT_ROOT, 'tools', 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultFile = join(resultsDir, `${date.toISOString().replace(/:/g, '-').replace(/\..*/, '')}.json`);
    const rounded = (_key: string, v: unknown) =>
      typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v;
    writeFileSync(resultFile, `${JSON.stringify(result, rounded, 2)}\n`);

    const m = result.machine;
    console.log(
      `\nnpm run bench, ${result.date}, commit ${m.commit}: ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}`,
    );
    console.log(
      `rounds: ${ROUNDS} × ${ROUND_MS / 1000} s per side per figure, alternating; load average ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end\n`,
    );
    printBenchTable(figures, rows);
    if (scale !== undefined) {
      console.log('\nscale run (tools/bench/scale.ts):');
      console.log(typeof scale === 'string' ? scale : JSON.stringify(scale, null, 2));
    }
    console.log(`\nresult: ${resultFile} (${result.durationSeconds} s)`);
  } catch (err) {
    for (const role of roles)
      if (role.child.exitCode !== null) console.error(`${role.name} exited with ${role.child.exitCode}`);
    throw err;
  } finally {
    await infra.stop();
  }
}

const USAGE = `npm run bench: the engine's figures, each beside a baseline measured in the same run (about 5 minutes).

  BENCH_ROUND_SECONDS  seconds per side per round (3)
  BENCH_ROUNDS         alternating rounds per figure (4, even)
  BENCH_PAYMENTS       payments timed one at a time (40)
  BENCH_LOG_LEVEL      the roles' LOG_LEVEL (info)
  TEMPORAL_ADDRESS     a running Temporal server instead of its own dev server
  DATABASE_URL         the Postgres server its scratch database goes on

The other benches: npm run bench:history | bench:trace | bench:codec | bench:analytics | bench:campaign | bench:scale.
Figures and how to read them: docs/BENCHMARKS.md; each run's JSON goes to tools/bench/results/.`;

if (process.argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
// Everything started was stopped; keep-alive sockets or a library's timer must not hold the exit.
closeSockets();
process.exit();
