import { describe, expect, it } from '@jest/globals';
import { LoadProcess, type LoadSnapshot } from './load-process.js';

const report = (elapsedSec: number, ackedReadings: number) => ({ elapsedSec, ackedReadings }) as LoadSnapshot;

describe('LoadProcess.achievedBetween', () => {
  it("is the readings acknowledged between two reports over the simulator's own seconds between them", () => {
    expect(LoadProcess.achievedBetween(report(10, 1_000), report(12.5, 32_250))).toBe(12_500);
  });

  it('is 0 when the second report is not later than the first (nothing can be said to have been published)', () => {
    expect(LoadProcess.achievedBetween(report(10, 1_000), report(10, 9_000))).toBe(0);
  });
});
