/**
 * Preloaded into the scale bench's worker process (`node --import tsx --import
 * ./bench/scale-worker-tuning.ts src/worker.ts`) to try worker tuning without changing the
 * production wiring: the options in BENCH_SCALE_WORKER_TUNING (JSON, e.g.
 * `{"maxCachedWorkflows":12000,"maxConcurrentWorkflowTaskExecutions":100}`) are laid over those
 * src/worker/create-worker.ts gives the lifecycle worker (the one that runs workflows).
 * Bench only: production sets no such thing.
 */
import { Worker, type WorkerOptions } from '@temporalio/worker';

const tuning = JSON.parse(process.env.BENCH_SCALE_WORKER_TUNING ?? '{}') as Partial<WorkerOptions>;
const create = Worker.create.bind(Worker);
Worker.create = (options: WorkerOptions) =>
  create(options.workflowsPath || options.workflowBundle ? { ...options, ...tuning } : options);
