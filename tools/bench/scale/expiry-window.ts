/**
 * The expiring minute: polls which rows turned `expired`, and when; reads the worker's CPU and its
 * Temporal metrics from 5 s before the first expiry until the last was seen.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Db } from '../../../src/db/knex';
import { distribution, GOAL_P99_MS, POLL_MS, type ScaleBenchFigures } from './figures';
import { cpuSeconds, sleep } from './proc';
import { metricSum, type WorkerProcess } from './worker-process';

export interface ExpiryWindowOptions {
  db: Db;
  accountId: string;
  taskQueue: string;
  worker: WorkerProcess;
  temporalPid: number;
  log: (line: string) => void;
}

export interface ExpiryWindow {
  expiry: ScaleBenchFigures['expiry'];
  workerMetrics: ScaleBenchFigures['workerMetrics'];
  /** The links that expired, for the history breakdown. */
  expiredRows: { id: string; expires_at: Date }[];
}

export async function watchExpiringMinute(o: ExpiryWindowOptions): Promise<ExpiryWindow> {
  const { db, accountId, taskQueue, worker, temporalPid, log } = o;
  const expiringRows = await db('payment_links')
    .where({ account_id: accountId })
    .where('expires_at', '<', new Date(Date.now() + 86_400_000))
    .select<{ id: string; expires_at: Date }[]>('id', 'expires_at');
  const expiryOf = new Map(expiringRows.map((r) => [r.id, r.expires_at.getTime()]));
  const firstExpiry = Math.min(...expiryOf.values());
  const lastExpiry = Math.max(...expiryOf.values());
  const seen = new Map<string, number>();
  let before = await worker.metrics();
  const windowCpu = () => ({ worker: cpuSeconds(worker.pid), temporal: cpuSeconds(temporalPid) });
  let cpuAtWindow = windowCpu();
  let windowBegan = Date.now();
  const slotsMin = { workflow: Number.POSITIVE_INFINITY, activity: Number.POSITIVE_INFINITY };
  const deadline = lastExpiry + 60_000;
  while (seen.size < expiryOf.size && Date.now() < deadline) {
    const rows = await db('payment_links')
      .where({ account_id: accountId, status: 'expired' })
      .select<{ id: string }[]>('id');
    const at = Date.now();
    for (const r of rows) if (!seen.has(r.id)) seen.set(r.id, at);
    if (Date.now() > firstExpiry - 5000) {
      const text = await worker.metrics().catch(() => '');
      if (text) {
        const wf = metricSum(text, 'temporal_worker_task_slots_available', {
          worker_type: 'WorkflowWorker',
        });
        const act = metricSum(text, 'temporal_worker_task_slots_available', {
          worker_type: 'ActivityWorker',
          task_queue: taskQueue,
        });
        slotsMin.workflow = Math.min(slotsMin.workflow, wf);
        slotsMin.activity = Math.min(slotsMin.activity, act);
      }
    } else {
      before = await worker.metrics();
      cpuAtWindow = windowCpu();
      windowBegan = Date.now();
    }
    await sleep(POLL_MS);
  }
  const after = await worker.metrics();
  const cpuAfterWindow = windowCpu();
  const windowWallSeconds = (Date.now() - windowBegan) / 1000;
  const loadDuringWindow = loadavg()[0] ?? 0;
  const expiredRows = await db('payment_links')
    .where({ account_id: accountId, status: 'expired' })
    .select<{ id: string; expires_at: Date; closed_at: Date; updated_at: Date }[]>(
      'id',
      'expires_at',
      'closed_at',
      'updated_at',
    );
  const late = (f: (r: (typeof expiredRows)[number]) => number) =>
    distribution(expiredRows.map((r) => f(r) - r.expires_at.getTime()));
  const rowLatenessMs = late((r) => r.updated_at.getTime());
  const closedAtLatenessMs = late((r) => r.closed_at.getTime());
  const observedLatenessMs = distribution(
    [...seen.entries()].map(([id, at]) => at - (expiryOf.get(id) ?? at)),
  );
  log(
    `expired ${expiredRows.length}/${expiryOf.size}: row p50 ${rowLatenessMs.p50} ms p99 ${rowLatenessMs.p99} ms`,
  );

  const delta = (name: string, labels: Record<string, string> = {}) =>
    metricSum(after, name, labels) - metricSum(before, name, labels);
  const mean = (name: string, labels: Record<string, string> = {}) => {
    const count = delta(`${name}_count`, labels);
    // The SDK's Prometheus histograms are in milliseconds (useSecondsForDurations unset).
    return count > 0 ? Math.round((delta(`${name}_sum`, labels) / count) * 10) / 10 : 0;
  };
  if (process.env.BENCH_SCALE_METRICS_DUMP) writeFileSync(process.env.BENCH_SCALE_METRICS_DUMP, after);
  const workerMetrics = {
    workflowTaskScheduleToStartMeanMs: mean('temporal_workflow_task_schedule_to_start_latency'),
    workflowTaskExecutionMeanMs: mean('temporal_workflow_task_execution_latency'),
    activityScheduleToStartMeanMs: mean('temporal_activity_schedule_to_start_latency', {
      task_queue: taskQueue,
    }),
    workflowSlotsAvailableMin: Number.isFinite(slotsMin.workflow) ? slotsMin.workflow : Number.NaN,
    activitySlotsAvailableMin: Number.isFinite(slotsMin.activity) ? slotsMin.activity : Number.NaN,
    stickyCacheForcedEvictions: delta('temporal_sticky_cache_total_forced_eviction'),
    stickyCacheMisses: delta('temporal_sticky_cache_miss'),
    stickyCacheHits: delta('temporal_sticky_cache_hit'),
    workflowTasks: delta('temporal_workflow_task_replay_latency_count'),
  };

  const used = (now: number, then: number) => Math.round(((now - then) / windowWallSeconds) * 100) / 100;
  const perExpiry = (now: number, then: number) =>
    Math.round(((now - then) * 1e4) / Math.max(seen.size, 1)) / 10;
  const expiry = {
    windowSeconds: Math.round((lastExpiry - firstExpiry) / 1000),
    expired: expiredRows.length,
    notExpiredInTime: expiryOf.size - expiredRows.length,
    rowLatenessMs,
    closedAtLatenessMs,
    observedLatenessMs,
    goalP99Ms: GOAL_P99_MS,
    metGoal: expiredRows.length === expiryOf.size && rowLatenessMs.p99 <= GOAL_P99_MS,
    coresUsed: {
      worker: used(cpuAfterWindow.worker, cpuAtWindow.worker),
      temporal: used(cpuAfterWindow.temporal, cpuAtWindow.temporal),
    },
    loadAverage1m: Math.round(loadDuringWindow * 100) / 100,
    cpuMsPerExpiry: {
      worker: perExpiry(cpuAfterWindow.worker, cpuAtWindow.worker),
      temporal: perExpiry(cpuAfterWindow.temporal, cpuAtWindow.temporal),
    },
  };
  return { expiry, workerMetrics, expiredRows };
}
