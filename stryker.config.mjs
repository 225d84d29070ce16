// Mutation testing of the domain rules: `npm run mutation` (reports in reports/mutation/).
// One file at a time while working on its tests: `npx stryker run --mutate src/domain/totp.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['src/domain/**/*.ts'],
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // Two cores: one test process at a time by default; `--concurrency 2` on an idle machine.
  concurrency: 1,
  timeoutMS: 10_000,
  timeoutFactor: 2,
  thresholds: { high: 85, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
