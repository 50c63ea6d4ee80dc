import { defineConfig } from 'vitest/config';

/**
 * `npm run record:histories` (payment links) and `npm run record:campaign-histories` (campaigns):
 * record the replay fixtures from real runs, into a new folder each time.
 */
export default defineConfig({
  test: {
    include: ['test/record/**/*.record.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 150_000,
    hookTimeout: 150_000,
  },
});
