import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const entry = join(root, 'dist/bench/bench/src/main.js');

// The harness's smallest mode, end to end (own Mosquitto, fresh database, both apps as processes,
// the simulator's load mode, the reference pipeline), so `npm run bench` cannot rot unnoticed.
describe('bench --quick', () => {
  it('runs every phase against the real system and writes both reports with measured numbers', () => {
    expect(existsSync(entry)).toBe(true); // npm test builds first; run `npm run build` when running this file alone
    const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    try {
      const run = spawnSync(process.execPath, [entry, '--quick', '--out-dir', out], {
        encoding: 'utf8',
        timeout: 170_000,
        env: process.env,
      });
      expect({ status: run.status, tail: run.status === 0 ? '' : `${run.stdout}\n${run.stderr}`.slice(-3000) }).toEqual(
        { status: 0, tail: '' },
      );
      const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
        quick: boolean;
        phases: Record<string, { status: string; error?: string; result?: Record<string, unknown> }>;
        targets: { name: string; met: boolean | null }[];
      };
      expect(report.quick).toBe(true);
      const failed = Object.entries(report.phases)
        .filter(([, p]) => p.status !== 'ok')
        .map(([name, p]) => `${name}: ${p.status} ${(p.error ?? '').split('\n')[0]}`);
      expect(failed).toEqual([]);
      const sustained = (name: string) =>
        (report.phases[name].result as { sustainedReadingsPerSec: number }).sustainedReadingsPerSec;
      expect(sustained('reference')).toBeGreaterThan(0);
      expect(sustained('lantern')).toBeGreaterThan(0);
      expect((report.phases.alertLatency.result as { samples: number }).samples).toBeGreaterThan(0);
      // Measured in a fresh process of its own (one with --quick), whose figure is the one reported.
      const core = report.phases.streamingCore.result as { nsPerReading: number; perProcess: number[] };
      expect(core.nsPerReading).toBeGreaterThan(0);
      expect(core.perProcess).toEqual([core.nsPerReading]);
      // The scaling table: a row per load shape, each with a sustained rate and its CPU per reading.
      const scaling = report.phases.scaling.result as unknown as {
        devices: number;
        readingsPerMessage: number;
        sustainedReadingsPerSec?: number;
        readingsPerCore?: number;
      }[];
      expect(scaling.map((r) => [r.devices, r.readingsPerMessage])).toEqual([
        [10, 1],
        [20, 10],
      ]);
      for (const row of scaling) {
        expect(row.sustainedReadingsPerSec).toBeGreaterThan(0);
        expect(row.readingsPerCore).toBeGreaterThan(0);
      }
      expect(report.targets.every((t) => t.met !== null)).toBe(true);
      const markdown = readFileSync(join(out, 'benchmarks.md'), 'utf8');
      expect(markdown).toContain('Quick (smoke) run');
      expect(markdown).toContain('## Sustained ingest');
      expect(markdown).toContain('### Scaling: devices × readings per message');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
