import { describe, expect, it } from '@jest/globals';
import { cpuBetween, processCpuSeconds } from './cpu-time.js';

describe('pipeline CPU time from /proc', () => {
  it('reads a live process as node itself counts its CPU time; a gone process reads as undefined', () => {
    const before = processCpuSeconds(process.pid);
    const usage = process.cpuUsage();
    expect(before).toBeGreaterThan(0);
    // Work until node has used 0.2 s of CPU, however busy the machine is (wall time would flake).
    let x = 0;
    const cpuSec = () => {
      const u = process.cpuUsage(usage);
      return (u.user + u.system) / 1e6;
    };
    while (cpuSec() < 0.2) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    // /proc counts in 10-ms ticks.
    expect(Math.abs(processCpuSeconds(process.pid)! - before! - cpuSec())).toBeLessThanOrEqual(0.05);
    expect(processCpuSeconds(2 ** 22 + 1)).toBeUndefined();
  });

  it('counts a backend that appeared meanwhile from zero and leaves out what was not measured', () => {
    const before = { process: 10, backends: new Map([[1, 5]]) };
    const after = {
      process: 12.5,
      backends: new Map([
        [1, 6],
        [2, 0.5],
      ]),
    };
    expect(cpuBetween(before, after)).toEqual({ processSec: 2.5, databaseSec: 1.5 });
    expect(cpuBetween({ process: 1, backends: undefined }, after)).toEqual({ processSec: 11.5 });
    expect(cpuBetween({ process: undefined, backends: undefined }, after)).toEqual({});
  });
});
