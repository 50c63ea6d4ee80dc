/**
 * A 10,000-recipient campaign, email at 100 per second, end to end on its own stack.
 *
 *   npm run bench:campaign                                   # starts its own dev server and scratch database
 *   BENCH_CAMPAIGN_RECIPIENTS=1000 npm run bench:campaign    # a quick run
 *   BENCH_CAMPAIGN_MAX_SECONDS=600 …                         # stop waiting then, report what was done
 *
 * The stack (tools/bench/support, as `npm run bench` builds it): the Temporal dev server, a scratch
 * database on DATABASE_URL's server, the API and the worker each in its own process as production
 * runs them (`src/api/server.ts`, `src/worker.ts`, NODE_ENV=production, the payload codec on,
 * sending through SMTP_URL), the baseline's trivial worker in a third, and a real SMTP server in
 * this process that timestamps every message it accepts.
 *
 * Measured, in this order:
 * 1. the raw-start floor: 10,000 trivial workflows started at the campaign's start concurrency
 *    (and run to completion by the trivial worker), on the same dev server;
 * 2. the import: POST /v1/campaigns/:id/recipients with the 10,000-row CSV, streamed (goal < 5 s);
 * 3. the run: from the import to every link created (payment_links.created_at) and every first
 *    email accepted by the SMTP server, against the larger of the throttle floor (recipients /
 *    100 s) and the raw-start floor (goal: within 1.25×);
 * 4. the throttle: per-second counts of link creations and of SMTP accepts: mean rate, and the
 *    worst 10-second window (goal: within ±5 % of 100/s);
 * 5. the worker's RSS (VmRSS of its /proc/<pid>/status, sampled every 250 ms).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAccount } from '../../src/accounts/accounts';
import { createDb } from '../../src/db/knex';
import { connectClient } from '../../src/temporal/connection';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { workflowQueuePolled } from './support/http';
import { startBenchInfra } from './support/infra';
import { OUT_OF_REACH, productionRoles, type Role, startRole, untilReady } from './support/processes';

const RECIPIENTS = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? 10_000);
/** The 100/s; lower (BENCH_CAMPAIGN_EMAIL_PER_SECOND) checks the throttle at a pace the machine holds. */
const EMAIL_PER_SECOND = Number(process.env.BENCH_CAMPAIGN_EMAIL_PER_SECOND ?? 100);
/**
 * How many link creations the campaign engine runs at once (createCampaignActivities' maxInFlight
 * in activities/campaigns.ts); the raw baseline starts its trivial workflows at the same.
 */
const START_CONCURRENCY = Number(process.env.BENCH_START_CONCURRENCY ?? 16);
const GOAL_RATIO = 1.25;
const IMPORT_GOAL_S = 5;
const THROTTLE_TOLERANCE = 0.05;
const WINDOW_S = 10;

const seconds = (from: number, to = performance.now()) => (to - from) / 1000;
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (nproc), ${fmt(totalmem() / 2 ** 30)} GiB memory, ${cpu}`;
}

/** Runs `work` over `items` with at most `concurrency` at once. */
async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** The raw-start floor: `count` trivial workflows started at `concurrency`, then run to completion. */
async function rawStartFloor(client: Client, queue: string, count: number, concurrency: number) {
  const ids = Array.from({ length: count }, (_, i) => `${queue}-${i}`);
  const start = performance.now();
  await pool(ids, concurrency, async (workflowId) => {
    await client.workflow.start('benchTrivial', { taskQueue: queue, workflowId });
  });
  const started = seconds(start);
  await pool(ids, concurrency, async (id) => {
    await client.workflow.getHandle(id).result();
  });
  return { started, completed: seconds(start) };
}

/** VmRSS of a process, in MiB, sampled until stopped. */
function sampleRss(pid: number, everyMs = 250) {
  const samples: { at: number; mib: number }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      if (kb) samples.push({ at: performance.now(), mib: Number(kb) / 1024 });
      await sleep(everyMs);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

interface RateFigures {
  /** Events per second between the first and the last event. */
  mean: number;
  /** The full 10-second window (in 1-second steps) farthest from the target rate. */
  worstWindow: { from: number; rate: number };
}

/** Per-second rate figures of event times (ms since epoch). */
function rates(times: number[], target: number): RateFigures {
  const sorted = [...times].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const last = sorted.at(-1) ?? 0;
  const span = (last - first) / 1000;
  const mean = span > 0 ? (sorted.length - 1) / span : Number.NaN;
  const perSecond = new Array(Math.floor(span) + 1).fill(0) as number[];
  for (const t of sorted) {
    const second = Math.floor((t - first) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
  }
  let worst = { from: 0, rate: Number.NaN };
  // Only whole windows inside the run: the first and last seconds are partial by nature.
  for (let w = 0; w + WINDOW_S <= perSecond.length - 1; w++) {
    const rate = perSecond.slice(w, w + WINDOW_S).reduce((a, b) => a + b, 0) / WINDOW_S;
    if (Number.isNaN(worst.rate) || Math.abs(rate - target) > Math.abs(worst.rate - target))
      worst = { from: w, rate };
  }
  return { mean, worstWindow: worst };
}

const deviation = (rate: number, target: number) =>
  `${rate >= target ? '+' : ''}${fmt((100 * (rate - target)) / target)} %`;

async function api<T>(origin: string, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function writeCsv(dir: string, count: number): Promise<string> {
  const file = join(dir, 'recipients.csv');
  const rows = ['email,name,reference'];
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(5, '0');
    rows.push(`customer${n}@bench.example,Customer ${n},BENCH-${n}`);
  }
  await writeFile(file, `${rows.join('\n')}\n`);
  return file;
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const date = new Date().toISOString();
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`Campaign bench, ${date}\nmachine: ${machine()}\nload average at start: ${load()}`);
  console.log(
    `${RECIPIENTS.toLocaleString('en')} recipients, email at ${EMAIL_PER_SECOND}/s, start concurrency ${START_CONCURRENCY}\n`,
  );

  const infra = await startBenchInfra();
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-bench-campaign-'));
  infra.add('CSV directory', () => rm(dir, { recursive: true, force: true }));
  try {
    const {
      peers,
      apiUrl: origin,
      suffix,
      taskQueue,
      codecKeys,
      env,
    } = await productionRoles(infra, 'bench-campaign', {
      logLevel: process.env.BENCH_LOG_LEVEL,
      overrides: {
        // The worker's own ceiling per channel (all campaigns and links together) sits above the
        // campaign's throttle: the campaign's is the one measured.
        EMAIL_PER_SECOND: String(EMAIL_PER_SECOND * 2),
        SMS_PER_SECOND: String(EMAIL_PER_SECOND * 2),
        // The bench polls progress faster than an account may in production.
        RATE_LIMIT_ACCOUNT_PER_MINUTE: OUT_OF_REACH,
      },
    });
    const trivialQueue = `bench-trivial-${suffix}`;
    const logFile = join(tmpdir(), `paylinks-bench-campaign-${date.replace(/[:.]/g, '-')}.log`);
    console.log(`the roles' logs: ${logFile}`);
    const start = (name: string, script: string, extra: NodeJS.ProcessEnv = {}) => {
      const role: Role = startRole(name, script, { ...env, ...extra }, logFile);
      infra.add(name, role.stop);
      return role;
    };
    const apiRole = start('API', 'src/api/server.ts');
    const worker = start('worker', 'src/worker.ts');
    const trivialWorker = start('trivial worker', 'tools/bench/support/trivial-worker.ts', {
      BENCH_TRIVIAL_QUEUE: trivialQueue,
    });
    const client = await connectClient(
      infra.temporalAddress,
      'default',
      payloadDataConverter(parseCodecKeys(codecKeys)),
    );
    infra.add('Temporal client', () => client.connection.close());
    const polled = (queue: string) => workflowQueuePolled(client, queue);
    await Promise.all([
      untilReady(apiRole, async () => (await fetch(`${origin}/readyz`)).status === 200, 90_000, logFile),
      untilReady(worker, () => polled(taskQueue), 180_000, logFile),
      untilReady(trivialWorker, () => polled(trivialQueue), 180_000, logFile),
    ]);
    const db = createDb(infra.databaseUrl);
    infra.add('database pool', () => db.destroy());

    // 1. The raw-start floor, before the campaign loads the dev server.
    const raw = await rawStartFloor(client, trivialQueue, RECIPIENTS, START_CONCURRENCY);
    console.log(
      `raw starts: ${RECIPIENTS} trivial workflows started in ${fmt(raw.started)} s (${fmt(RECIPIENTS / raw.started, 0)}/s), all completed after ${fmt(raw.completed)} s`,
    );

    const workerPid = worker.child.pid as number;
    const idleRss = sampleRss(workerPid);
    await sleep(1000);
    await idleRss.stop();

    const account = await createAccount(db, 'Bench shop');
    const call = <T>(method: string, path: string, body?: unknown) =>
      api<T>(origin, account.apiKey, method, path, body);

    const csv = await writeCsv(dir, RECIPIENTS);
    const campaign = await call<{ id: string }>('POST', '/v1/campaigns', {
      name: 'Bench campaign',
      link: {
        amount: 1500,
        currency: 'EUR',
        description: 'Bench dues',
        channels: ['email'],
        quiet_hours: null,
      },
      throttle: { links_per_second: EMAIL_PER_SECOND, email_per_second: EMAIL_PER_SECOND },
    });

    // 2. The import, streamed as the CLI sends it.
    const importStart = performance.now();
    const importRes = await fetch(`${origin}/v1/campaigns/${campaign.id}/recipients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.apiKey}`, 'content-type': 'text/csv' },
      body: Readable.toWeb(createReadStream(csv)) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    const imported = (await importRes.json()) as { accepted: number; rejected: unknown[] };
    const importSeconds = seconds(importStart);
    if (!importRes.ok || imported.accepted !== RECIPIENTS)
      throw new Error(`import: ${importRes.status} ${JSON.stringify(imported).slice(0, 500)}`);
    console.log(`import: ${RECIPIENTS} rows in ${fmt(importSeconds, 2)} s`);

    // 3. The run.
    const rss = sampleRss(workerPid);
    const importStartEpoch = Date.now() - importSeconds * 1000;
    const runStart = performance.now();
    await call('POST', `/v1/campaigns/${campaign.id}/start`, {});
    const isBench = (to: string[]) => to.some((a) => a.endsWith('@bench.example'));
    let linksDoneAt: number | undefined;
    let emailsDoneAt: number | undefined;
    const floor = Math.max(RECIPIENTS / EMAIL_PER_SECOND, raw.started);
    // Generous: a slow run is a figure to report. Past the deadline the figures are of what was done.
    const maxSeconds = Number(process.env.BENCH_CAMPAIGN_MAX_SECONDS ?? Math.max(1800, floor * 20));
    const deadline = performance.now() + maxSeconds * 1000;
    let lastPrint = 0;
    let unfinished = '';
    while (linksDoneAt === undefined || emailsDoneAt === undefined) {
      if (performance.now() > deadline) {
        unfinished = `UNFINISHED after ${maxSeconds} s: `;
        break;
      }
      const [{ n }] = (
        await db.raw(
          'SELECT count(*)::int AS n FROM payment_links WHERE account_id = ? AND campaign_id = ?',
          [account.accountId, campaign.id],
        )
      ).rows as [{ n: number }];
      const mails = new Set(
        peers.smtp.messages.filter((m) => isBench(m.envelopeTo)).map((m) => m.envelopeTo[0]),
      ).size;
      const now = performance.now();
      if (n >= RECIPIENTS) linksDoneAt ??= now;
      if (mails >= RECIPIENTS) emailsDoneAt ??= now;
      if (now - lastPrint > 10_000) {
        lastPrint = now;
        const rssNow = rss.samples.at(-1)?.mib ?? 0;
        console.log(
          `  ${fmt(seconds(runStart), 0).padStart(4)} s: ${n} links, ${mails} emails, worker RSS ${fmt(rssNow, 0)} MiB`,
        );
      }
      await sleep(200);
    }
    await rss.stop();

    // Exact instants from the rows and the SMTP server, not from the polling above.
    const linkTimes = (
      await db.raw(
        'SELECT extract(epoch FROM created_at) * 1000 AS t FROM payment_links WHERE account_id = ? AND campaign_id = ?',
        [account.accountId, campaign.id],
      )
    ).rows.map((r: { t: string }) => Number(r.t)) as number[];
    const firstEmail = new Map<string, number>();
    for (const m of peers.smtp.messages) {
      const to = m.envelopeTo[0];
      if (to && isBench(m.envelopeTo) && !firstEmail.has(to)) firstEmail.set(to, m.receivedAt.getTime());
    }
    const emailTimes = [...firstEmail.values()];
    if (unfinished)
      unfinished += `${linkTimes.length} of ${RECIPIENTS} links, ${emailTimes.length} first emails; `;
    const lastLink = Math.max(...linkTimes);
    const lastEmail = Math.max(...emailTimes);
    const fromImport = (t: number) => (t - importStartEpoch) / 1000;
    const total = fromImport(Math.max(lastLink, lastEmail));
    const linkRates = rates(linkTimes, EMAIL_PER_SECOND);
    const emailRates = rates(emailTimes, EMAIL_PER_SECOND);
    const throttleFloor = RECIPIENTS / EMAIL_PER_SECOND;
    const runRss = rss.samples.map((s) => s.mib);
    const peakRss = Math.max(...runRss);
    const meanRss = runRss.reduce((a, b) => a + b, 0) / runRss.length;
    const idle = idleRss.samples.at(-1)?.mib ?? Number.NaN;
    const within = (rate: number) =>
      Math.abs(rate - EMAIL_PER_SECOND) <= EMAIL_PER_SECOND * THROTTLE_TOLERANCE;
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

    console.log(`\nload average at the end: ${load()}`);
    console.log(`\n| figure | value | goal |`);
    console.log('| --- | --- | --- |');
    console.log(
      `| CSV import, ${RECIPIENTS.toLocaleString('en')} rows (streamed POST) | ${fmt(importSeconds, 2)} s | < ${IMPORT_GOAL_S} s: ${verdict(importSeconds < IMPORT_GOAL_S)} |`,
    );
    console.log(
      `| throttle floor (${RECIPIENTS.toLocaleString('en')} / ${EMAIL_PER_SECOND} per s) | ${fmt(throttleFloor)} s | |`,
    );
    console.log(
      `| raw-start floor (${RECIPIENTS.toLocaleString('en')} trivial starts at ${START_CONCURRENCY} at once) | ${fmt(raw.started)} s (all completed ${fmt(raw.completed)} s) | |`,
    );
    console.log(`| import start → every link created | ${unfinished}${fmt(fromImport(lastLink))} s | |`);
    console.log(
      `| import start → every first email accepted by SMTP | ${unfinished}${fmt(fromImport(lastEmail))} s | |`,
    );
    console.log(
      `| total vs the larger floor (${fmt(floor)} s) | ${unfinished}${fmt(total / floor, 3)}× | ≤ ${GOAL_RATIO}×: ${verdict(!unfinished && total / floor <= GOAL_RATIO)} |`,
    );
    console.log(
      `| link creations: mean rate | ${fmt(linkRates.mean)}/s (${deviation(linkRates.mean, EMAIL_PER_SECOND)}) | ±5 %: ${verdict(within(linkRates.mean))} |`,
    );
    console.log(
      `| link creations: worst 10-s window | ${fmt(linkRates.worstWindow.rate)}/s at +${linkRates.worstWindow.from} s (${deviation(linkRates.worstWindow.rate, EMAIL_PER_SECOND)}) | ±5 %: ${verdict(within(linkRates.worstWindow.rate))} |`,
    );
    console.log(
      `| first emails accepted: mean rate | ${fmt(emailRates.mean)}/s (${deviation(emailRates.mean, EMAIL_PER_SECOND)}) | ±5 %: ${verdict(within(emailRates.mean))} |`,
    );
    console.log(
      `| first emails accepted: worst 10-s window | ${fmt(emailRates.worstWindow.rate)}/s at +${emailRates.worstWindow.from} s (${deviation(emailRates.worstWindow.rate, EMAIL_PER_SECOND)}) | ±5 %: ${verdict(within(emailRates.worstWindow.rate))} |`,
    );
    console.log(
      `| worker RSS: idle → mean, peak during the run | ${fmt(idle, 0)} → ${fmt(meanRss, 0)}, ${fmt(peakRss, 0)} MiB | |`,
    );
  } finally {
    await infra.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
