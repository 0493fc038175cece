/** Jest in ES-module mode (Nest 12 ships ES modules): run through `node --experimental-vm-modules`. */
const esmTsJest = [
  'ts-jest',
  { useESM: true, tsconfig: { module: 'esnext', moduleResolution: 'bundler', isolatedModules: true } },
];

/** How every test file is compiled and resolved, whichever project runs it. */
const compiled = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': esmTsJest },
  moduleNameMapper: {
    '^@lantern/messaging/contract$': '<rootDir>/libs/messaging/src/contract.ts',
    '^@lantern/(.*)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};

/**
 * Pure tests under test/ (no database, broker, socket or child process). Every other file under
 * test/ is an integration test; every spec beside its source (apps, libs, simulator, bench) is a unit test.
 */
const PURE_IN_TEST = [
  '<rootDir>/test/simulator/scenarios.spec.ts',
  '<rootDir>/test/simulator/signal-generators.spec.ts',
  '<rootDir>/test/fhir/fhir-validation.spec.ts',
  '<rootDir>/test/eval/eval-alerts.spec.ts',
];

export default {
  testTimeout: 60000,
  maxWorkers: 2,
  projects: [
    {
      ...compiled,
      // `npm run test:unit`: no PostgreSQL, no broker, nothing started before the tests.
      displayName: 'unit',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/device-simulator', '<rootDir>/bench', '<rootDir>/test'],
      testMatch: ['<rootDir>/{apps,libs,device-simulator,bench}/**/*.spec.ts', ...PURE_IN_TEST],
    },
    {
      ...compiled,
      // A PostgreSQL server and a broker for the run (those of DATABASE_URL / MQTT_URL, else started here).
      displayName: 'integration',
      roots: ['<rootDir>/test'],
      testMatch: ['<rootDir>/test/**/*.spec.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        ...PURE_IN_TEST.map((path) => path.replace('<rootDir>', '^<rootDir>')),
      ],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
