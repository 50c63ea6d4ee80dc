/**
 * `npm run test:stress [-- vitest args]`: the test suite while every core is kept busy, to check
 * that no test depends on a quiet machine. The load is stress-ng's CPU workers, or a Node busy
 * loop per core where stress-ng is absent. It is stopped whatever happens; the exit code is
 * vitest's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const cores = availableParallelism();

// Busy in slices, so that the loop notices its parent is gone (the IPC channel closes) and ends.
const BURNER = `process.on('disconnect', () => process.exit());
const burn = () => { const end = Date.now() + 50; while (Date.now() < end); setImmediate(burn); };
burn();`;

const quietly = (pid: number | undefined, kill: (pid: number) => void) => {
  try {
    if (pid !== undefined) kill(pid);
  } catch {
    // already gone
  }
};

/** Starts the load; returns what stops it (safe to call more than once). */
function startLoad(): () => void {
  if (spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0) {
    console.log(`test:stress: stress-ng --cpu ${cores}`);
    // In its own process group, stopped as a whole; the timeout bounds it should this script be killed.
    const stress = spawn('stress-ng', ['--cpu', String(cores), '--timeout', '2h', '--quiet'], {
      stdio: 'inherit',
      detached: true,
    });
    return () => quietly(stress.pid, (pid) => process.kill(-pid, 'SIGTERM'));
  }
  console.log(`test:stress: stress-ng not found, ${cores} Node busy loop(s)`);
  const burners = Array.from({ length: cores }, () =>
    spawn(process.execPath, ['-e', BURNER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  return () => {
    for (const burner of burners) quietly(burner.pid, () => burner.kill('SIGTERM'));
  };
}

const stopLoad = startLoad();
process.on('exit', stopLoad); // the last resort, however this process ends
const vitest = spawn(
  process.execPath,
  [`${ROOT}node_modules/vitest/vitest.mjs`, 'run', ...process.argv.slice(2)],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => vitest.kill(signal));
vitest.on('exit', (code, signal) => {
  stopLoad();
  process.exit(code ?? (signal ? 1 : 0));
});
