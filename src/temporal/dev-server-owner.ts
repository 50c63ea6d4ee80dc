/**
 * `npm start` owns the dev server it starts: its pid, command line and ports are recorded in
 * DATA_DIR, so a start after a crash of the main process (which leaves the dev server running,
 * reparented, holding its ports and SQLite file) stops that orphan first: only when the recorded
 * pid still runs exactly the command we started, never another process that reused the pid. A
 * port held by anything else is refused with a message that says so, rather than attaching to a
 * server we do not own.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface DevServerRecord {
  pid: number;
  /** The command line as /proc shows it: the binary, then its arguments. */
  command: string[];
  ports: number[];
  /** The `npm start` that owns it, and its command line. */
  owner: { pid: number; command: string[] };
  startedAt: string;
}

export class DevServerConflict extends Error {
  override name = 'DevServerConflict';
}

/**
 * The process's command line, or undefined once it is gone. An unreaped zombie counts as gone,
 * but not a zombie thread-group leader whose other threads still run (a Go program shutting down).
 */
export function commandOf(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised name, which may itself contain spaces or parentheses.
    const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    if (zombie && readdirSync(`/proc/${pid}/task`).length <= 1) return undefined;
    const parts = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

const sameCommand = (a: string[] | undefined, b: string[]) =>
  a !== undefined && a.length === b.length && a.every((part, i) => part === b[i]);

export function readRecord(file: string): DevServerRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevServerRecord;
  } catch {
    return undefined; // half-written by a process killed mid-write: nothing to trust in it
  }
}

export function writeRecord(file: string, pid: number, command: string[], ports: number[]): void {
  const record: DevServerRecord = {
    pid,
    command,
    ports,
    owner: { pid: process.pid, command: commandOf(process.pid) ?? [] },
    startedAt: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

/** Forgets the record, if it is still the one of `pid`. */
export function clearRecord(file: string, pid: number): void {
  if (readRecord(file)?.pid === pid) rmSync(file, { force: true });
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (commandOf(pid) !== undefined) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * Stops the dev server recorded in `file` if it is still running as we started it and its owner
 * is gone. `not_ours`: the pid now belongs to another program, which is left alone.
 */
export async function stopStaleDevServer(
  file: string,
  log: (line: string) => void = () => {},
): Promise<'none' | 'stopped' | 'not_ours'> {
  const record = readRecord(file);
  if (!record) return 'none';
  const running = commandOf(record.pid);
  if (!sameCommand(running, record.command)) {
    rmSync(file, { force: true });
    return running ? 'not_ours' : 'none';
  }
  if (record.owner.pid !== process.pid && sameCommand(commandOf(record.owner.pid), record.owner.command)) {
    throw new DevServerConflict(
      `another Paylinks (pid ${record.owner.pid}) is running its Temporal dev server (pid ${record.pid}) with this DATA_DIR; stop it first`,
    );
  }
  log(`stopping the Temporal dev server left running by an earlier start (pid ${record.pid})`);
  process.kill(record.pid, 'SIGTERM');
  if (!(await gone(record.pid, 10_000))) {
    process.kill(record.pid, 'SIGKILL');
    if (!(await gone(record.pid, 5_000)))
      throw new DevServerConflict(`the earlier Temporal dev server (pid ${record.pid}) did not stop`);
  }
  // Its sockets may outlive the process by a moment: the new server must find its ports free.
  const deadline = Date.now() + 10_000;
  for (const port of record.ports) {
    while ((await portProblem(port)) === 'EADDRINUSE' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  rmSync(file, { force: true });
  return 'stopped';
}

/** Refuses, naming the port and its setting, when something already listens on it. */
export async function assertPortFree(port: number, setting: string, host = '127.0.0.1'): Promise<void> {
  const problem = await portProblem(port, host);
  if (problem === 'EADDRINUSE') {
    throw new DevServerConflict(
      `port ${port} (${setting}) is already in use by another process, not a Temporal dev server Paylinks started; stop that process or choose another port with ${setting}`,
    );
  }
  if (problem) throw new DevServerConflict(`port ${port} (${setting}) cannot be used: ${problem}`);
}

/** Why nothing can listen on the port right now (EADDRINUSE: something does), or undefined. */
function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen(port, host, () => probe.close(() => resolve(undefined)));
  });
}
