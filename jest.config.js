/** Jest in ES-module mode (Nest 12 ships ES modules): run through `node --experimental-vm-modules`. */
const esmTsJest = [
  'ts-jest',
  { useESM: true, tsconfig: { module: 'esnext', moduleResolution: 'bundler', isolatedModules: true } },
];

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': esmTsJest },
  moduleNameMapper: {
    '^@lantern/(.*)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/device-simulator', '<rootDir>/bench'],
  testMatch: ['**/*.spec.ts'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
