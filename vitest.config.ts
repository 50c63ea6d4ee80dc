import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Temporal workers are native addons: separate processes, never worker threads.
    pool: 'forks',
    // Several times the tests' own waits (WAIT_MS in test/helpers/temporal.ts): a slow run
    // fails on the condition it waited for, not on a bare timeout. Tests that wait longer on
    // purpose set their own, again above their waits.
    testTimeout: 150_000,
    hookTimeout: 150_000,
  },
});
