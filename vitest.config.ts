import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Temporal workers are native addons: separate processes, never worker threads.
    pool: 'forks',
    // Most of a test's time is spent waiting on Temporal, Postgres and timers, not on the CPU:
    // three files at once take the suite from ~600 s to ~250 s on 2 cores (Vitest's default
    // there is one), and each file has its own databases and task queues.
    maxWorkers: 3,
    // Several times the tests' own waits (WAIT_MS in test/helpers/wait.ts): a slow run
    // fails on the condition it waited for, not on a bare timeout. Tests that wait longer on
    // purpose set their own, again above their waits.
    testTimeout: 150_000,
    hookTimeout: 150_000,
  },
});
