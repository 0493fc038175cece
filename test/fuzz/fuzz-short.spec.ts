import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { HOSTILE_CATEGORIES } from '../../bench/src/fuzz/hostile-payload.generator.js';
import { renderFuzzTable } from '../../bench/src/fuzz/fuzz-report.js';
import { runFuzz } from '../../bench/src/fuzz/fuzz.runner.js';

const root = new URL('../..', import.meta.url).pathname;

// The fuzz harness of `npm run fuzz` (docs/reliability.md, "Fuzzing"), small: 3,000 hostile messages
// through the built ingest as its own process, a Mosquitto of its own and a fresh database.
describe('fuzz, short run', () => {
  it('stores every valid reading and accounts for every hostile message, with no restart and nothing pending', async () => {
    // npm test builds first; alone, run `npx nest build ingest` before this file.
    expect(existsSync(join(root, 'dist/apps/ingest/apps/ingest/src/main.js'))).toBe(true);
    const lines: string[] = [];
    const report = await runFuzz({
      rootDir: root,
      messages: 3000,
      seed: 12,
      hostileDevices: 4,
      validDevices: 4,
      rate: 1000,
      validRate: 50,
      window: 32,
      probeIntervalMs: 200,
      minProbeSamples: 5,
      drainTimeoutMs: 30_000,
      databaseUrl: process.env.DATABASE_URL,
      log: (line) => lines.push(line),
    });
    const failed = report.invariants.filter((i) => !i.ok);
    // On failure the whole table (examples of unaccounted messages included) is the message.
    expect(failed.length === 0 ? '' : `${lines.join('\n')}\n${renderFuzzTable(report)}`).toBe('');
    expect(report.storm.hostileAcknowledged).toBe(3000);
    // Every category was generated and its messages ended up somewhere.
    for (const category of HOSTILE_CATEGORIES) expect(report.hostile.categories[category].messages).toBeGreaterThan(0);
    const total = Object.values(report.hostile.categories).reduce((sum, c) => sum + c.messages, 0);
    expect(total).toBe(3000);
    expect(report.valid.readingsStored).toBeGreaterThan(0);
    expect(report.deadLetters.rows).toBeGreaterThan(0);
    expect(report.probe.samples).toBeGreaterThan(0); // raised while the hostile messages flowed
    expect(report.probe.samples + report.probe.samplesAfterStorm).toBeGreaterThanOrEqual(5);
    expect(report.ingest.peakRssMiB).toBeGreaterThan(0);
  }, 90_000);
});
