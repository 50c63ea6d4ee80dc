/** What the scale bench is asked (its options) and what it answers (its figures), and how they print. */

export interface ScaleBenchOptions {
  /** Open links in all (default 10,000; BENCH_SCALE_LINKS when run alone). */
  links?: number;
  /** How many of them expire inside the same minute (default 2,000; BENCH_SCALE_EXPIRING). */
  expiring?: number;
  /** Creates in flight at once. */
  concurrency?: number;
  /** Histories read to break the lateness down. */
  historySample?: number;
  /**
   * The dev server's store: memory (default: its RSS then holds every history) or a SQLite file
   * (BENCH_SCALE_TEMPORAL_STORE=file; its size is reported, and it costs the server about three
   * times the CPU per create on this machine).
   */
  temporalStore?: 'file' | 'memory';
  /**
   * Worker options laid over the production ones for the workflow worker (tools/bench/scale-worker-tuning.mjs),
   * e.g. { maxCachedWorkflows: 12000 }; BENCH_SCALE_WORKER_TUNING (JSON) when run alone.
   */
  workerTuning?: Record<string, number>;
  /** Progress lines (stderr when run alone). */
  log?: (line: string) => void;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ScaleBenchFigures {
  machine: { nproc: number; memoryMiB: number; cpuModel: string; loadAverage1m: number; date: string };
  links: number;
  expiring: number;
  create: {
    seconds: number;
    perSecond: number;
    concurrency: number;
    /** CPU milliseconds per link created, by process (Postgres not counted). */
    cpuMsPerLink: { worker: number; temporal: number; client: number };
  };
  atRest: {
    /** The worker process (src/worker.ts) before any link, and with every link open. */
    workerIdleRssMiB: number;
    workerRssMiB: number;
    /** One open link's history: events and encoded bytes. */
    openHistoryEvents: number;
    openHistoryBytes: number;
    /** A freshly started worker with the same links open (empty sticky cache). */
    workerRestartedRssMiB: number;
    /** Workflows the worker held in its sticky cache (temporal_sticky_cache_size). */
    stickyCacheSize: number;
    /** (workerRss − workerRestartedRss) / stickyCacheSize. */
    perCachedWorkflowKiB: number;
    temporalIdleRssMiB: number;
    temporalRssMiB: number;
    /** The dev server's SQLite file (with its WAL): Temporal's persistence. */
    /** null with the store in memory. */
    temporalStoreMiB: number | null;
    perOpenWorkflowStoreKiB: number | null;
    postgresEmptyMiB: number;
    postgresMiB: number;
    perLinkPostgresBytes: number;
  };
  expiry: {
    windowSeconds: number;
    expired: number;
    /** Still open when the bench stopped waiting (60 s after the last expires_at): not in the figures below. */
    notExpiredInTime: number;
    /** expires_at → the row's updated_at (the transaction that wrote `expired`). */
    rowLatenessMs: Distribution;
    /** expires_at → the row's closed_at (the workflow's clock when it closed the link). */
    closedAtLatenessMs: Distribution;
    /** expires_at → first seen `expired` by a poll every POLL_MS (an upper bound). */
    observedLatenessMs: Distribution;
    goalP99Ms: number;
    metGoal: boolean;
    /** CPU milliseconds per expired link over the window, by process (Postgres not counted). */
    cpuMsPerExpiry: { worker: number; temporal: number };
    /** Cores each process used on average from 5 s before the first expiry until the last was seen. */
    coresUsed: { worker: number; temporal: number };
    /** The machine's 1-minute load average as the window ended (other work on the machine included). */
    loadAverage1m: number;
  };
  /** From the histories of a sample of the expired links. */
  breakdown: {
    sample: number;
    timerFiredLateMs: Distribution;
    timerFiredToWorkflowTaskStartMs: Distribution;
    withWorkflowTaskTimeout: number;
    workflowTaskRunMs: Distribution;
    activityScheduleToStartMs: Distribution;
    activityRunMs: Distribution;
  };
  /** The worker's own Temporal metrics over the expiry window (Prometheus, TEMPORAL_METRICS_BIND). */
  workerMetrics: {
    workflowTaskScheduleToStartMeanMs: number;
    workflowTaskExecutionMeanMs: number;
    activityScheduleToStartMeanMs: number;
    workflowSlotsAvailableMin: number;
    activitySlotsAvailableMin: number;
    stickyCacheForcedEvictions: number;
    stickyCacheMisses: number;
    stickyCacheHits: number;
    /**
     * Workflow tasks handled (the count of temporal_workflow_task_replay_latency, which the SDK
     * records for every task); minus stickyCacheHits: tasks that came with the full history (the
     * sticky queue timed out, or the workflow was not cached) and were replayed from the start.
     */
    workflowTasks: number;
  };
  seconds: number;
}

/** How often the expiring minute polls Postgres for rows turned `expired`. */
export const POLL_MS = 250;
/** The goal: 99 % of the links expiring inside one minute are `expired` within 2 s of expires_at. */
export const GOAL_P99_MS = 2000;

export function distribution(values: number[]): Distribution {
  // NaN: not measured (e.g. no remote recordChange activity in a lean-lifecycle history).
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return {
    count: sorted.length,
    p50: Math.round(at(0.5)),
    p90: Math.round(at(0.9)),
    p99: Math.round(at(0.99)),
    max: Math.round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export function printFigures(f: ScaleBenchFigures): void {
  const d = (x: Distribution) =>
    `p50 ${x.p50} ms, p90 ${x.p90} ms, p99 ${x.p99} ms, max ${x.max} ms (n=${x.count})`;
  const r = f.atRest;
  console.log(`
Scale: ${f.links} open links, ${f.expiring} expiring within one minute
machine: ${f.machine.nproc} cores (${f.machine.cpuModel}), ${f.machine.memoryMiB} MiB, load ${f.machine.loadAverage1m}, ${f.machine.date}
create: ${f.links} links in ${f.create.seconds} s (${f.create.perSecond}/s, ${f.create.concurrency} in flight); CPU per link: worker ${f.create.cpuMsPerLink.worker} ms, Temporal ${f.create.cpuMsPerLink.temporal} ms, creating client ${f.create.cpuMsPerLink.client} ms

| at rest | figure |
| --- | --- |
| worker RSS, idle → ${f.links} open | ${r.workerIdleRssMiB} → ${r.workerRssMiB} MiB |
| worker RSS, restarted (empty cache) | ${r.workerRestartedRssMiB} MiB |
| one open link's history | ${r.openHistoryEvents} events, ${r.openHistoryBytes} bytes encoded |
| sticky cache | ${r.stickyCacheSize} workflows, ≈ ${r.perCachedWorkflowKiB} KiB each |
| Temporal dev server RSS, idle → open | ${r.temporalIdleRssMiB} → ${r.temporalRssMiB} MiB |
| Temporal store | ${r.temporalStoreMiB === null ? 'in memory (in the RSS above)' : `SQLite file ${r.temporalStoreMiB} MiB (${r.perOpenWorkflowStoreKiB} KiB per open workflow)`} |
| Postgres database | ${r.postgresEmptyMiB} → ${r.postgresMiB} MiB (${r.perLinkPostgresBytes} bytes per link) |

expiry of ${f.expiry.expired} links over ${f.expiry.windowSeconds} s, ${f.expiry.notExpiredInTime} still open 60 s after the last expires_at (goal p99 ≤ ${f.expiry.goalP99Ms} ms: ${f.expiry.metGoal ? 'met' : 'MISSED'})
  CPU per expiry: worker ${f.expiry.cpuMsPerExpiry.worker} ms, Temporal ${f.expiry.cpuMsPerExpiry.temporal} ms; cores used: worker ${f.expiry.coresUsed.worker}, Temporal ${f.expiry.coresUsed.temporal} (load average ${f.expiry.loadAverage1m})
  row updated_at − expires_at: ${d(f.expiry.rowLatenessMs)}
  closed_at − expires_at:      ${d(f.expiry.closedAtLatenessMs)}
  seen by a ${POLL_MS} ms poll:      ${d(f.expiry.observedLatenessMs)}
from ${f.breakdown.sample} histories:
  timer fired − expires_at:    ${d(f.breakdown.timerFiredLateMs)}
  timer fired → task started:  ${d(f.breakdown.timerFiredToWorkflowTaskStartMs)}
  closing task timed out first (sticky queue not polled in time): ${f.breakdown.withWorkflowTaskTimeout} of ${f.breakdown.sample}
  workflow task run:           ${d(f.breakdown.workflowTaskRunMs)}
  recordChange wait:           ${d(f.breakdown.activityScheduleToStartMs)}
  recordChange run:            ${d(f.breakdown.activityRunMs)}
worker metrics over the window: ${JSON.stringify(f.workerMetrics)}
total ${f.seconds} s`);
}
