import { describe, expect, it } from '@jest/globals';
import { cpuBetween, processCpuSeconds } from './cpu-time.js';

describe('pipeline CPU time from /proc', () => {
  it('reads a live process and sees it grow with work; a gone process reads as undefined', () => {
    const before = processCpuSeconds(process.pid);
    expect(before).toBeGreaterThan(0);
    const until = performance.now() + 200;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(processCpuSeconds(process.pid)! - before!).toBeGreaterThanOrEqual(0.1);
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
