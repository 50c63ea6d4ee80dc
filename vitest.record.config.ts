import { defineConfig } from 'vitest/config';

/** `npm run record:histories`: re-records the replay fixtures from real runs. */
export default defineConfig({
  test: {
    include: ['test/record/**/*.record.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 150_000,
    hookTimeout: 150_000,
  },
});
