/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  setupFiles: ['<rootDir>/spec/setup-env.ts'],
  globalTeardown: '<rootDir>/spec/teardown.js',
  // docs/robustness.md: the table of hostile-input, fault and crash cases, rewritten by each run.
  reporters: ['default', '<rootDir>/spec/harness/robustness-reporter.js'],
};
