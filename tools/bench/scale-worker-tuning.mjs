/**
 * Preloaded into the scale bench's worker process (`node --import tsx --import
 * ./tools/bench/scale-worker-tuning.mjs src/worker.ts`) to try worker tuning without changing the
 * production wiring: the options in BENCH_SCALE_WORKER_TUNING (JSON, e.g.
 * `{"maxConcurrentWorkflowTaskExecutions":100}`) are laid over those src/worker/create-worker.ts
 * gives the lifecycle worker (the one that runs workflows). Bench only: production sets no such
 * thing. Plain JavaScript because the SDK's workflow threads inherit the preload without tsx.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const { Worker } = await import('@temporalio/worker');
  const tuning = JSON.parse(process.env.BENCH_SCALE_WORKER_TUNING ?? '{}');
  const create = Worker.create.bind(Worker);
  Worker.create = (options) =>
    create(options.workflowsPath || options.workflowBundle ? { ...options, ...tuning } : options);
}
