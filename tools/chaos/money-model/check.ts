/**
 * The model-based concurrency test of issue 21: fast-check generates interleavings of open,
 * submit, decline, cancel, expire, refund, reissue and replayed callbacks from a seed; each is
 * played against the real engine, the system is let settle, and the money invariants are checked
 * from Postgres (invariants.ts). A failure is shrunk (within a time budget: every attempt is a
 * real run) and reported with its seed and path, which replay it: `FC_SEED=… FC_PATH=…`.
 *
 * Used by test/integration/money-model.test.ts (a few interleavings, in `npm test`) and by the
 * chaos part `money` (`npm run chaos -- --part money`, 200 by default).
 */
import fc from 'fast-check';
import type { Target } from '../target';
import { executeScenario, type RunRecord } from './execute';
import { checkInvariants } from './invariants';
import { describeScenario, type Scenario, scenarioArbitrary } from './scenario';
import { settle } from './settle';

export interface ModelOptions {
  runs: number;
  seed: number;
  /** A counterexample's path (with its seed): only that interleaving is played, not shrunk further. */
  path?: string;
  /** Shrinking stops this long after the first failure; the smallest failing one so far is reported. */
  shrinkBudgetMs: number;
  /** How long a run may take to settle before what it still waits for is reported. */
  settleMs: number;
  /** How the report says to replay a failure, given its seed and path. */
  replayCommand: (seed: number, path: string) => string;
  log: (line: string) => void;
  /** A line per interleaving as it finishes; `trace`: with what each command got. */
  progress?: boolean | 'trace';
}

export interface ModelResult {
  ok: boolean;
  seed: number;
  /** Interleavings generated (up to and including the first failing one). */
  runs: number;
  /** Real runs in all, shrinking attempts included. */
  executions: number;
  shrinks: number;
  path: string | null;
  seconds: number;
  /** What the interleavings (before any shrinking) did, added up: proof they exercised something. */
  tally: Record<string, number>;
  /** The failure, ready to print: seed, replay command, the shrunk interleaving, what it did, what broke. */
  report: string[];
  violations: string[];
}

interface Failure {
  record: RunRecord;
  violations: string[];
}

/**
 * Settings from the environment (empty means unset): FC_SEED, FC_RUNS, FC_PATH, FC_SHRINK_MS, and
 * FC_VERBOSE (1: a line per interleaving; trace: with every command's answer).
 */
export function modelSettingsFromEnv(defaults: { runs: number; seed: number; shrinkBudgetMs: number }) {
  const int = (name: string, fallback: number) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) throw new Error(`${name} must be a whole number, got ${raw}`);
    return value;
  };
  const path = process.env.FC_PATH || undefined;
  return {
    seed: int('FC_SEED', defaults.seed),
    runs: int('FC_RUNS', defaults.runs),
    shrinkBudgetMs: int('FC_SHRINK_MS', defaults.shrinkBudgetMs),
    ...(path ? { path } : {}),
    ...(process.env.FC_VERBOSE
      ? { progress: process.env.FC_VERBOSE === 'trace' ? ('trace' as const) : true }
      : {}),
  };
}

export async function checkMoneyModel(target: Target, options: ModelOptions): Promise<ModelResult> {
  const started = Date.now();
  const failures = new Map<string, Failure>();
  let firstFailureAt: number | undefined;
  let executions = 0;
  let crashed: { scenario: Scenario; error: string } | undefined;
  const tally: Record<string, number> = {};
  options.log(
    `money model: seed ${options.seed}, ${options.runs} interleavings${options.path ? `, replaying path ${options.path}` : ''}`,
  );

  const property = fc.asyncProperty(scenarioArbitrary, async (scenario: Scenario) => {
    // Out of shrinking budget: every further candidate "passes", so the smallest failure stands.
    if (firstFailureAt !== undefined && Date.now() - firstFailureAt > options.shrinkBudgetMs) return true;
    // The harness itself failed (Postgres unreachable, a query wrong): reported, not shrunk.
    if (crashed) return true;
    // A replay plays the one interleaving it names (fast-check would go on to its siblings).
    if (options.path && executions > 0) return true;
    executions++;
    const runStarted = Date.now();
    let violations: string[];
    let record: RunRecord;
    try {
      record = await executeScenario(target, scenario);
      const unsettled = await settle(target, record, options.settleMs);
      violations = [
        ...(unsettled ? [`the system settles: ${unsettled}`] : []),
        ...(await checkInvariants(target, record)),
      ];
    } catch (err) {
      crashed = { scenario, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      return true;
    }
    if (firstFailureAt === undefined)
      for (const [what, n] of Object.entries(record.tally)) tally[what] = (tally[what] ?? 0) + n;
    if (options.progress)
      options.log(
        `money model: ${firstFailureAt === undefined ? 'interleaving' : 'shrinking'} ${executions}: ${violations.length === 0 ? 'held' : `${violations.length} broken`} (${((Date.now() - runStarted) / 1000).toFixed(1)} s)`,
      );
    if (options.progress === 'trace') {
      for (const line of [...describeScenario(scenario), ...record.trace, ...violations])
        options.log(`  ${line}`);
    }
    if (violations.length === 0) return true;
    firstFailureAt ??= Date.now();
    failures.set(JSON.stringify(scenario), { record, violations });
    throw new Error(violations.join('\n'));
  });

  const details = await fc.check(property, {
    seed: options.seed,
    numRuns: options.runs,
    ...(options.path ? { path: options.path, endOnFailure: true } : {}),
  });
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const base = {
    seed: options.seed,
    runs: details.numRuns,
    executions,
    shrinks: details.numShrinks,
    path: details.counterexamplePath,
    seconds,
    tally,
  };
  if (crashed) {
    const report = [
      `money model: the model could not run interleaving ${executions} (seed ${options.seed}): ${crashed.error}`,
      ...describeScenario(crashed.scenario).map((l) => `  ${l}`),
    ];
    for (const line of report) options.log(line);
    return { ok: false, ...base, report, violations: [`the model ran: ${crashed.error}`] };
  }
  if (!details.failed) {
    options.log(
      `money model: ${options.path ? `the interleaving at ${options.path}` : `${details.numRuns} interleavings`} held every invariant (seed ${options.seed}, ${seconds} s): ${describeTally(tally)}`,
    );
    return { ok: true, ...base, report: [], violations: [] };
  }

  const scenario = details.counterexample?.[0] as Scenario | undefined;
  const failure = scenario ? failures.get(JSON.stringify(scenario)) : undefined;
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const violations = failure?.violations ?? [error];
  const path = details.counterexamplePath ?? '';
  const report = [
    `money model: an invariant broke in interleaving ${details.numRuns} of ${options.runs} (seed ${options.seed}; shrunk ${details.numShrinks} times in ${executions} runs; ${seconds} s)`,
    `replay: ${options.replayCommand(options.seed, path)}`,
    'the interleaving (shrunk):',
    ...(scenario ? describeScenario(scenario) : ['(none)']).map((l) => `  ${l}`),
    'what it did (the last failing run of it):',
    ...(failure?.record.trace ?? ['(not recorded)']).map((l) => `  ${l}`),
    'broken:',
    ...violations.map((v) => `  - ${v}`),
  ];
  for (const line of report) options.log(line);
  return { ok: false, ...base, report, violations };
}

const describeTally = (tally: Record<string, number>) =>
  Object.entries(tally)
    .map(([what, n]) => `${n} ${what}`)
    .join(', ') || 'nothing happened';
