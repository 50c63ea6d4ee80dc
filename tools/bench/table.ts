/**
 * `npm run bench`'s table: each figure beside its baseline, the ratio and issue 11's goal for it,
 * and the machine it ran on.
 */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, totalmem } from 'node:os';
import { PROJECT_ROOT } from '../../src/paths';
import type { LifecycleHistory } from './support/lifecycle';
import type { Figures } from './support/load';

export interface Row {
  figure: string;
  subject: string;
  baseline: string;
  ratio: number | undefined;
  goal: string;
  met: boolean | undefined;
}

const rate = (f: Figures) => `${f.rate.toFixed(1)}/s`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const errorsOf = (f: Figures) => (f.errors > 0 ? ` (${f.errors} failed)` : '');

export function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: PROJECT_ROOT,
    })
      .toString()
      .trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // Not a git checkout: the commit is unknown.
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    nproc: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    node: process.version,
    commit,
  };
}

export interface BenchFigures {
  concurrencies: number[];
  pageConnections: number;
  create: Record<number, { create: Figures; start: Figures }>;
  page: { page: Figures; bare: Figures };
  callback: {
    count: number;
    failures: number;
    ackP50: number;
    ackP99: number;
    paidP50: number;
    paidP99: number;
  };
  history: LifecycleHistory;
}

export function benchRows(f: BenchFigures): Row[] {
  const { create, page, callback, history } = f;
  const rows: Row[] = [];
  for (const c of f.concurrencies) {
    const { create: s, start: b } = create[c] as { create: Figures; start: Figures };
    rows.push({
      figure: `create rate, C=${c}`,
      subject: rate(s) + errorsOf(s),
      baseline: rate(b) + errorsOf(b),
      ratio: s.rate / b.rate,
      goal: c === 20 || c === 50 ? '≥ 0.8' : '',
      met: c === 20 || c === 50 ? s.rate / b.rate >= 0.8 : undefined,
    });
    rows.push({
      figure: `create p50, C=${c}`,
      subject: ms(s.p50),
      baseline: ms(b.p50),
      ratio: s.p50 / b.p50,
      goal: c === 1 ? '≤ 2' : '',
      met: c === 1 ? s.p50 / b.p50 <= 2 : undefined,
    });
    rows.push({
      figure: `create p99, C=${c}`,
      subject: ms(s.p99),
      baseline: ms(b.p99),
      ratio: s.p99 / b.p99,
      goal: c === 20 ? '≤ 4' : '',
      met: c === 20 ? s.p99 / b.p99 <= 4 : undefined,
    });
  }
  const p = page.page;
  const pb = page.bare;
  rows.push(
    {
      figure: `page rate, ${f.pageConnections} conn.`,
      subject: rate(p) + errorsOf(p),
      baseline: rate(pb) + errorsOf(pb),
      ratio: p.rate / pb.rate,
      goal: '≥ 0.5',
      met: p.rate / pb.rate >= 0.5,
    },
    {
      figure: 'page p50',
      subject: ms(p.p50),
      baseline: ms(pb.p50),
      ratio: p.p50 / pb.p50,
      goal: '',
      met: undefined,
    },
    {
      figure: 'page p99',
      subject: ms(p.p99),
      baseline: ms(pb.p99),
      ratio: p.p99 / pb.p99,
      goal: '',
      met: undefined,
    },
    {
      figure: 'callback → paid p50',
      subject: ms(callback.paidP50) + (callback.failures ? ` (${callback.failures} failed)` : ''),
      baseline: '',
      ratio: undefined,
      goal: '≤ 50 ms',
      met: callback.paidP50 <= 50,
    },
    {
      figure: 'callback → paid p99',
      subject: ms(callback.paidP99),
      baseline: '',
      ratio: undefined,
      goal: '≤ 200 ms',
      met: callback.paidP99 <= 200,
    },
    {
      figure: 'lifecycle billable actions',
      subject: String(history.billableActions),
      baseline: '',
      ratio: undefined,
      goal: '≤ 12',
      met: history.billableActions <= 12,
    },
    {
      figure: 'lifecycle history events',
      subject: String(history.historyEvents),
      baseline: '',
      ratio: undefined,
      goal: '≤ 40',
      met: history.historyEvents <= 40,
    },
  );

  return rows;
}

/** The table as markdown, the callback's acknowledgement and every failure, on stdout. */
export function printBenchTable(f: BenchFigures, rows: Row[]): void {
  const { create, page, callback } = f;
  console.log(
    '| figure | subject | baseline | ratio | goal | met? |\n| --- | ---: | ---: | ---: | --- | --- |',
  );
  for (const r of rows) {
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    const ratio = r.ratio === undefined ? '' : r.ratio.toFixed(2);
    console.log(`| ${r.figure} | ${r.subject} | ${r.baseline} | ${ratio} | ${r.goal} | ${met} |`);
  }
  console.log(
    '\nsubject: create = POST /v1/payment_links, page = GET /l/:token; baseline: client.workflow.start of a trivial workflow, bare node:http with the same bytes',
  );
  console.log(
    `callback: signed sandbox callback acknowledged p50 ${ms(callback.ackP50)}, p99 ${ms(callback.ackP99)}; paid over ${callback.count} payments`,
  );
  const failures = [
    ...f.concurrencies.flatMap((c) =>
      (['create', 'start'] as const).map((side) => [`${side} C=${c}`, create[c]?.[side].errorKinds] as const),
    ),
    ['page', page.page.errorKinds] as const,
    ['bare', page.bare.errorKinds] as const,
  ].filter(([, kinds]) => kinds && Object.keys(kinds).length > 0);
  for (const [what, kinds] of failures) console.log(`failures, ${what}: ${JSON.stringify(kinds)}`);
}
