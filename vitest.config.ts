import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One shared private Redis Cluster for the run (its URL reaches the tests by `inject`).
    globalSetup: ['test/support/global-setup.ts'],
    // argon2 is memory- and CPU-hungry; two workers keep timing-sensitive tests honest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
