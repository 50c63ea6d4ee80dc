/**
 * `npm run bench:trace`: where the milliseconds of ONE create and ONE payment go, on the bench's
 * stack shape (API and worker as processes of their own, NODE_ENV=production, codec on,
 * LOG_LEVEL=info, their own dev server and scratch database).
 *
 *   npm run bench:trace                         # 30 creates and 30 payments, one at a time
 *   TRACE_COUNT=10 TRACE_CPU_CREATES=100 npm run bench:trace
 *   TRACE_PROFILE_DIR=/tmp/prof npm run bench:trace   # and a CPU profile of the API and the worker
 *   TRACE_PRELOAD=300 npm run bench:trace               # 300 creates by 10 callers before the traces
 *
 * For each operation, one at a time, the timestamps of the caller (sent, answered), of the API's
 * request log (received = logged − duration_ms) and of the link's history (every event's
 * eventTime) are put on one axis (all processes on this machine, one clock) and printed as a
 * waterfall of medians. Then TRACE_CPU_CREATES creates in a closed loop of TRACE_CPU_CALLERS (10) callers, with the CPU
 * (utime + stime from /proc/<pid>/stat) of the API, the worker, the Temporal server and the scratch
 * database's Postgres backends read before and after: CPU ms per create per process.
 */
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createAccount } from '../../src/accounts/accounts';
import { createDb } from '../../src/db/knex';
import { SIGNATURE_HEADER, signPayload } from '../../src/signing';
import { connectClient } from '../../src/temporal/connection';
import { parseCodecKeys, payloadDataConverter } from '../../src/temporal/payload-codec';
import { linkWorkflowId } from '../../workflows/payment-link/contract';
import { keepAliveHttp, workflowQueuePolled } from './support/http';
import { startBenchInfra } from './support/infra';
import { percentile } from './support/load';
import {
  productionRoles,
  RATE_LIMITS_OUT_OF_REACH,
  type Role,
  startRole,
  untilReady,
} from './support/processes';

const COUNT = Number(process.env.TRACE_COUNT ?? 30);
const WARMUP = 10;
const CPU_CREATES = Number(process.env.TRACE_CPU_CREATES ?? 300);
const CPU_CALLERS = Number(process.env.TRACE_CPU_CALLERS ?? 10);
const PRELOAD = Number(process.env.TRACE_PRELOAD ?? 0);
const CREATE_BODY = JSON.stringify({ amount: 1999, currency: 'USD', description: 'Order 1042' });
const { EventType } = proto.temporal.api.enums.v1;

const { request: http, destroy: closeSockets } = keepAliveHttp(64);
/** Wall-clock milliseconds, sub-millisecond: comparable with the other processes' timestamps. */
const nowMs = () => performance.timeOrigin + performance.now();

/** One step of a waterfall: a label and its time, in ms after the caller sent the request. */
type Steps = [label: string, atMs: number][];

/** Median of each step over all traces (the steps' labels are in the same order in each). */
function waterfall(title: string, traces: Steps[]): string {
  const labels: string[] = [];
  for (const t of traces) for (const [label] of t) if (!labels.includes(label)) labels.push(label);
  const rows = labels.map((label) => {
    const at = traces.flatMap((t) => t.filter(([l]) => l === label).map(([, v]) => v));
    return { label, p50: percentile(at, 50), p90: percentile(at, 90), n: at.length };
  });
  rows.sort((a, b) => a.p50 - b.p50);
  const lines = [`\n${title} (${traces.length} traced; ms after the caller sent it; median, p90)`];
  let previous = 0;
  for (const r of rows) {
    const delta = r.p50 - previous;
    previous = r.p50;
    const bar = '█'.repeat(Math.max(0, Math.min(60, Math.round(delta / 2))));
    lines.push(
      `${r.label.padEnd(52)} ${r.p50.toFixed(1).padStart(7)} ${r.p90.toFixed(1).padStart(7)}  +${delta.toFixed(1).padStart(6)} ${bar}${r.n < traces.length ? ` (${r.n} of ${traces.length})` : ''}`,
    );
  }
  return lines.join('\n');
}

/** utime + stime of a process, in ms (clock ticks are 100 per second on Linux). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0; // gone: a backend that closed
  }
}

/** The direct children of `pid` whose command line contains `match`. */
function childrenOf(pid: number, match: string): number[] {
  const found: number[] = [];
  for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
    if (!task) continue;
    const cmd = readFileSync(`/proc/${task}/cmdline`, 'utf8');
    if (cmd.includes(match)) found.push(Number(task));
  }
  return found;
}

async function main() {
  const loadStart = loadavg();
  const infra = await startBenchInfra();
  const roles: Role[] = [];
  try {
    // The same settings as npm run bench (tools/bench/index.ts).
    const { apiUrl, suffix, taskQueue, codecKeys, sandboxSecret, env } = await productionRoles(
      infra,
      'trace',
      {
        overrides: RATE_LIMITS_OUT_OF_REACH,
      },
    );
    // The API's log is its own file: its request lines are read back for the received time.
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const apiLog = join(tmpdir(), `paylinks-trace-api-${stamp}.log`);
    const workerLog = join(tmpdir(), `paylinks-trace-worker-${stamp}.log`);
    // TRACE_PROFILE_DIR: the API and the worker write a CPU profile there (node --cpu-prof) on exit.
    const profileDir = process.env.TRACE_PROFILE_DIR;
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const api = startRole('API', 'src/api/server.ts', env, apiLog, nodeArgs);
    const worker = startRole('worker', 'src/worker.ts', env, workerLog, nodeArgs);
    for (const role of [api, worker]) {
      roles.push(role);
      infra.add(role.name, role.stop);
    }
    const client: Client = await connectClient(
      infra.temporalAddress,
      'default',
      payloadDataConverter(parseCodecKeys(codecKeys)),
      { rpcMs: 3000, workerMs: 10_000 },
    );
    infra.add('Temporal client', () => client.connection.close());
    await Promise.all([
      untilReady(api, async () => (await http('GET', `${apiUrl}/readyz`)).status === 200, 90_000, apiLog),
      untilReady(worker, () => workflowQueuePolled(client, taskQueue), 180_000, workerLog),
    ]);
    const db = createDb(infra.databaseUrl);
    infra.add('database pool', () => db.destroy());
    const account = await createAccount(db, 'Trace shop');
    const auth = { authorization: `Bearer ${account.apiKey}`, 'content-type': 'application/json' };

    /** The API's request line for a request id: received = its time − duration_ms. */
    function apiRequest(requestId: string): { receivedMs: number; finishedMs: number } | undefined {
      for (const line of readFileSync(apiLog, 'utf8').split('\n')) {
        if (!line.includes(requestId)) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; time?: number; duration_ms?: number };
          if (entry.msg === 'request' && typeof entry.time === 'number' && entry.duration_ms !== undefined)
            return { receivedMs: entry.time - entry.duration_ms, finishedMs: entry.time };
        } catch {
          // not JSON: a line of the runtime's
        }
      }
      return undefined;
    }

    async function history(linkId: string) {
      const { history: h } = await client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: linkWorkflowId(linkId) },
      });
      return (h?.events ?? []).map((e) => ({
        id: Number(e.eventId),
        type: EventType[e.eventType ?? 0]?.replace(/^EVENT_TYPE_/, '') ?? String(e.eventType),
        atMs: Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6,
        activityType:
          e.activityTaskScheduledEventAttributes?.activityType?.name ??
          e.markerRecordedEventAttributes?.details?.type?.payloads?.[0]?.data?.toString(),
      }));
    }

    async function createLink(requestId?: string): Promise<{ id: string; url: string }> {
      const headers = requestId ? { ...auth, 'x-request-id': requestId } : auth;
      const res = await http('POST', `${apiUrl}/v1/payment_links`, { body: CREATE_BODY, headers });
      if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.body}`);
      return JSON.parse(res.body.toString());
    }

    for (let i = 0; i < WARMUP; i++) await createLink();
    // TRACE_PRELOAD: that many creates by 10 callers first, as npm run bench's warm-up makes.
    let preloaded = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (preloaded < PRELOAD) {
          preloaded += 1;
          await createLink();
        }
      }),
    );

    // 1. One create at a time.
    const creates: Steps[] = [];
    const createTotals: number[] = [];
    for (let i = 0; i < COUNT + 3; i++) {
      const requestId = `trace-create-${suffix}-${i}`;
      const t0 = nowMs();
      const link = await createLink(requestId);
      const t1 = nowMs();
      if (i < 3) continue;
      createTotals.push(t1 - t0);
      const steps: Steps = [['caller: answer received', t1 - t0]];
      await new Promise((r) => setTimeout(r, 20)); // the API writes its log line after the answer
      const logged = apiRequest(requestId);
      if (logged) {
        steps.push(['API: request received', logged.receivedMs - t0]);
        steps.push(['API: response finished', logged.finishedMs - t0]);
      }
      const seen = new Map<string, number>();
      for (const e of await history(link.id)) {
        // Only the create's own events: its first workflow task and what it answers.
        if (e.id > 12) break;
        const n = (seen.get(e.type) ?? 0) + 1;
        seen.set(e.type, n);
        steps.push([`history: ${e.type}${n > 1 ? ` #${n}` : ''}`, e.atMs - t0]);
      }
      creates.push(steps);
    }

    // 2. One payment at a time: the signed callback until the row is paid.
    const payments: Steps[] = [];
    const paidTotals: number[] = [];
    for (let i = 0; i < COUNT + 3; i++) {
      const link = await createLink();
      const token = new URL(link.url).pathname;
      const pay = await http('POST', `${apiUrl}${token}/pay`, {
        body: '',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const sessionId = /\/sandbox\/checkout\/([^/?#]+)/.exec(String(pay.headers.location ?? ''))?.[1];
      if (pay.status !== 303 || !sessionId) throw new Error(`Pay answered ${pay.status}`);
      const before = new Set((await history(link.id)).map((e) => e.id));
      const body = JSON.stringify({
        id: `evt_trace_${suffix}_${i}`,
        type: 'payment.succeeded',
        data: {
          session_id: sessionId,
          payment_id: `sbx_trace_${suffix}_${i}`,
          amount: 1999,
          currency: 'USD',
        },
      });
      const requestId = `trace-pay-${suffix}-${i}`;
      const t0 = nowMs();
      const res = await http('POST', `${apiUrl}/v1/callbacks/sandbox`, {
        body,
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          [SIGNATURE_HEADER]: signPayload(sandboxSecret, body),
        },
      });
      const acked = nowMs() - t0;
      if (res.status !== 200) throw new Error(`callback answered ${res.status}`);
      let paidAt: number | undefined;
      while (nowMs() - t0 < 30_000) {
        const row = await db('payment_links').where({ id: link.id }).first('status');
        if (row?.status === 'paid') {
          paidAt = nowMs() - t0;
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      if (i < 3 || paidAt === undefined) continue;
      paidTotals.push(paidAt);
      const steps: Steps = [
        ['caller: callback answered', acked],
        ['caller: row seen paid', paidAt],
      ];
      await new Promise((r) => setTimeout(r, 20));
      const logged = apiRequest(requestId);
      if (logged) {
        steps.push(['API: callback received', logged.receivedMs - t0]);
        steps.push(['API: callback response finished', logged.finishedMs - t0]);
      }
      const seen = new Map<string, number>();
      for (const e of await history(link.id)) {
        if (before.has(e.id)) continue;
        const label = e.activityType ? `${e.type} (${e.activityType})` : e.type;
        const n = (seen.get(label) ?? 0) + 1;
        seen.set(label, n);
        const at = e.atMs - t0;
        if (at > paidAt + 50) continue; // what comes after the row is paid (closing, drainer)
        steps.push([`history: ${label}${n > 1 ? ` #${n}` : ''}`, at]);
      }
      payments.push(steps);
    }

    // 3. CPU per create, per process, under a closed loop of 10 callers.
    const temporalPids = childrenOf(process.pid, 'start-dev');
    const dbName = new URL(infra.databaseUrl).pathname.slice(1);
    const backends = async () =>
      (
        await db.raw<{ rows: { pid: number }[] }>(
          'select pid from pg_stat_activity where datname = ? and pid <> pg_backend_pid()',
          [dbName],
        )
      ).rows.map((r) => r.pid);
    // The pools are warm: the backends that served the creates above serve these.
    const pgPids = await backends();
    const processes: [string, number[]][] = [
      ['API', api.child.pid ? [api.child.pid] : []],
      ['worker', worker.child.pid ? [worker.child.pid] : []],
      ['Temporal dev server', temporalPids],
      ['Postgres (scratch db backends)', pgPids],
      ['this load generator', [process.pid]],
    ];
    const read = () => processes.map(([, pids]) => pids.reduce((s, p) => s + cpuMs(p), 0));
    let made = 0;
    const cpuBefore = read();
    const wallBefore = performance.now();
    await Promise.all(
      Array.from({ length: CPU_CALLERS }, async () => {
        while (made < CPU_CREATES) {
          made += 1;
          await createLink();
        }
      }),
    );
    const wall = performance.now() - wallBefore;
    const cpuAfter = read();

    const loadEnd = loadavg();
    console.log(
      `\nnpm run bench:trace: ${COUNT} creates and ${COUNT} payments one at a time; load average ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end`,
    );
    console.log(waterfall('ONE create: POST /v1/payment_links', creates));
    console.log(
      `create total: p50 ${percentile(createTotals, 50).toFixed(1)} ms, p90 ${percentile(createTotals, 90).toFixed(1)} ms`,
    );
    console.log(waterfall('ONE payment: signed callback until the row is paid', payments));
    console.log(
      `callback → paid: p50 ${percentile(paidTotals, 50).toFixed(1)} ms, p99 ${percentile(paidTotals, 99).toFixed(1)} ms`,
    );
    console.log(
      `\nCPU per create, ${made} creates by ${CPU_CALLERS} callers in ${(wall / 1000).toFixed(1)} s (${((made * 1000) / wall).toFixed(1)}/s):`,
    );
    processes.forEach(([name], i) => {
      const used = (cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0);
      console.log(`  ${name.padEnd(32)} ${(used / Math.max(1, made)).toFixed(1).padStart(6)} ms`);
    });
    console.log(`\nlogs: ${apiLog}, ${workerLog}`);
  } finally {
    await infra.stop();
  }
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
closeSockets();
process.exit();
