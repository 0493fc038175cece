import { describe, expect, it } from '@jest/globals';
import { benchmarkEvaluation } from './evaluation.bench.js';

describe('benchmarkEvaluation', () => {
  it('reports a cost per reading and exercises alerting along the way', () => {
    const result = benchmarkEvaluation({ patients: 20, readings: 20_000 });
    expect(result.readings).toBe(20_000);
    expect(result.nsPerReading).toBeGreaterThan(0);
    // The median round lies within the rounds' spread.
    expect(result.nsPerReadingRange[0]).toBeLessThanOrEqual(result.nsPerReading);
    expect(result.nsPerReadingRange[1]).toBeGreaterThanOrEqual(result.nsPerReading);
    expect(result.transitions).toBeGreaterThan(0);
  });
});
