/**
 * What the scale bench reads of the machine and its processes: RSS and CPU from /proc (Linux),
 * file and database sizes, and a bounded pool for the creates and the history reads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Db } from '../../../src/db/knex';
import { distribution, type ScaleBenchFigures } from './figures';

export const MiB = 1024 * 1024;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VmRSS of a process, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat; 12 and 13 after the comm.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** The `temporal` dev server this process spawned (the helper keeps its child to itself). */
export function childPidNamed(comm: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may contain spaces, so split after its closing parenthesis.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === comm && ppid === process.pid) return Number(entry);
    } catch {
      // the process ended while the table was read
    }
  }
  throw new Error(`no child process named ${comm}`);
}

/** RSS settles after allocation bursts: the median of a few readings a second apart. */
export async function settledRss(pid: number, readings = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < readings; i++) {
    values.push(rssMiB(pid));
    if (i < readings - 1) await sleep(1000);
  }
  return distribution(values).p50;
}

export const fileMiB = (path: string) => {
  let bytes = 0;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      bytes += statSync(path + suffix).size;
    } catch {
      // no WAL yet
    }
  }
  return Math.round((bytes / MiB) * 10) / 10;
};

export async function databaseBytes(db: Db): Promise<number> {
  const { rows } = await db.raw<{ rows: { size: string }[] }>(
    'SELECT pg_database_size(current_database()) AS size',
  );
  return Number(rows[0]?.size);
}

export function machine(): ScaleBenchFigures['machine'] {
  return {
    nproc: cpus().length,
    memoryMiB: Math.round(totalmem() / MiB),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

/** Runs `task` over `count` indexes with at most `concurrency` in flight. */
export async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
