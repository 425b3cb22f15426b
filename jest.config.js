// One jest run over every workspace; TypeScript sources are used directly (no build needed).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/apps', '<rootDir>/examples'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  moduleNameMapper: {
    '^@tollgate/(core|http)/testing$': '<rootDir>/packages/$1/src/testing/index.ts',
    '^@tollgate/(core|http|llm|redis|ledger)/internal$': '<rootDir>/packages/$1/src/internal.ts',
    '^@tollgate/(core|http|llm|redis|express|fastify|ledger|settings)$': '<rootDir>/packages/$1/src/index.ts',
  },
  globalSetup: '<rootDir>/test-support/global-setup.js',
  setupFilesAfterEnv: ['<rootDir>/test-support/midnight-guard.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
