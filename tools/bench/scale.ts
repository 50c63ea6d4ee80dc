/**
 * Scale: many open links held by one worker, and a burst of expiries within one minute.
 *
 *   npm run bench:scale                                         # 10,000 open links, 2,000 expire together
 *   BENCH_SCALE_LINKS=1000 BENCH_SCALE_EXPIRING=200 npm run bench:scale   # a quick run
 *
 * Starts its own Temporal dev server (in memory, or a SQLite file in a temporary directory), a scratch Postgres
 * database, the local SMTP and SMS peers, and the production worker (`src/worker.ts`) as its own
 * process so that its RSS can be read. Links are created through the API's create path
 * (LinkService.create: start the workflow, wait for its update that the row is stored), with no
 * channels: nothing is sent, the figures are the lifecycle's own.
 *
 * Prints and returns: worker, Temporal and Postgres footprints with all links open; then, for the
 * links expiring inside one minute, how late each row turned `expired` (p50/p99), broken down from
 * the workflow histories (timer fired → workflow task → recordChange activity → row).
 *
 * The modules under scale/: figures (what it answers, and how it prints), run (the phases in
 * order), create-links, expiry-window, breakdown (why a link was late, from its history),
 * worker-process and proc (what is read of the processes).
 */
import { pathToFileURL } from 'node:url';
import { printFigures } from './scale/figures';
import { runScaleBench } from './scale/run';

export type { ScaleBenchFigures, ScaleBenchOptions } from './scale/figures';
/** `npm run bench` runs it too, on its own stack, when this file exports it. */
export { runScaleBench };

const USAGE = `npm run bench:scale: many open links on one worker, and a burst of expiries within one minute.

  BENCH_SCALE_LINKS           open links in all (10000)
  BENCH_SCALE_EXPIRING        how many of them expire inside the same minute (2000)
  BENCH_SCALE_TEMPORAL_STORE  memory (default) or file: the dev server's store
  BENCH_SCALE_WORKER_TUNING   JSON worker options laid over the production ones
  BENCH_SCALE_JSON            also print the figures as JSON
  BENCH_SCALE_METRICS_DUMP    a file for the worker's metrics at the end of the window

Figures and how to read them: docs/BENCHMARKS.md.`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const figures = await runScaleBench({
    links: process.env.BENCH_SCALE_LINKS ? Number(process.env.BENCH_SCALE_LINKS) : undefined,
    expiring: process.env.BENCH_SCALE_EXPIRING ? Number(process.env.BENCH_SCALE_EXPIRING) : undefined,
    workerTuning: process.env.BENCH_SCALE_WORKER_TUNING
      ? JSON.parse(process.env.BENCH_SCALE_WORKER_TUNING)
      : undefined,
    temporalStore: process.env.BENCH_SCALE_TEMPORAL_STORE === 'file' ? 'file' : 'memory',
    log: (line) => console.error(`[scale] ${line}`),
  });
  printFigures(figures);
  if (process.env.BENCH_SCALE_JSON) console.log(JSON.stringify(figures, null, 2));
}
