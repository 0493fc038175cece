import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { renderChaosTable } from '../../bench/src/chaos/chaos-report.js';
import { runChaos } from '../../bench/src/chaos/chaos.runner.js';

const root = new URL('../..', import.meta.url).pathname;

// The chaos harness of `npm run chaos` (docs/reliability.md, "Chaos"), small: the built ingest and
// api as processes, under load, with every fault once and a hypoglycaemia patient per fault.
describe('chaos, short run', () => {
  it('loses no reading, stores none twice, misses no scenario alert and duplicates no notification through every fault', async () => {
    // npm test builds first; alone, run `npx nest build ingest && npx nest build api` before this file.
    expect(existsSync(join(root, 'dist/apps/ingest/apps/ingest/src/main.js'))).toBe(true);
    expect(existsSync(join(root, 'dist/apps/api/apps/api/src/main.js'))).toBe(true);
    const lines: string[] = [];
    const report = await runChaos({
      rootDir: root,
      faults: ['ingest-kill', 'api-kill', 'db-outage', 'broker-restart', 'failover'],
      ingestKills: 2,
      dbOutageSec: 5,
      brokerDownSec: 2,
      broker: 'mosquitto',
      rate: 500,
      loadDevices: 4,
      scenarioPatients: 1,
      settleSec: 1,
      drainTimeoutMs: 30_000,
      databaseUrl: process.env.DATABASE_URL,
      log: (line) => lines.push(line),
    });
    // On failure the log and the whole table are the message.
    expect(report.ok ? '' : `${lines.join('\n')}\n${renderChaosTable(report)}`).toBe('');
    expect(report.faults.map((f) => f.fault)).toEqual([
      'ingest-kill',
      'api-kill',
      'db-outage',
      'broker-restart',
      'failover',
    ]);
    for (const f of report.faults) {
      expect(f.scenarioAlertsExpected).toBe(1);
      expect(f.worstAlertDelayMs).toBeGreaterThan(0);
    }
    expect(report.load.readingsAcknowledged).toBeGreaterThan(0);
  }, 150_000);
});
