import { defineConfig } from 'vitest/config';

/**
 * The tests that mutation testing (`npm run mutation`, stryker.config.mjs) runs against
 * src/domain: the domain unit tests and the in-memory session store contract. They need no
 * PostgreSQL, Redis or SMTP, so there is no global setup (no shared Redis Cluster).
 */
export default defineConfig({
  test: {
    include: ['test/domain/**/*.test.ts', 'test/contract/session-store.fake.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    // One module graph per worker: the domain's imports (WebAuthn, Kysely, the password list)
    // load once, not once per test file and mutant.
    isolate: false,
    reporters: ['default'],
  },
});
