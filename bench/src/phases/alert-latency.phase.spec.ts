import { describe, expect, it } from '@jest/globals';
import { alertStages } from './alert-latency.phase.js';

describe('alertStages', () => {
  it("splits each probe at the alert's receivedAt, raisedAt and broker event, and says which stage the slowest 1 % spent in", () => {
    // 99 probes at 10 ms (2 + 1 + 4 + 3), and one of 100 ms that spent 60 of them storing and 30 relaying.
    const probes = Array.from({ length: 99 }, (_, i) => {
      const published = i * 1000;
      return {
        published,
        received: published + 2,
        raised: published + 3,
        relayed: published + 7,
        delivered: published + 10,
      };
    });
    probes.push({ published: 500_000, received: 500_008, raised: 500_010, relayed: 500_070, delivered: 500_100 });
    const stages = alertStages(probes);
    expect(stages.map((s) => s.name)).toEqual(['inbound', 'evaluation', 'store', 'relay']);
    expect(stages[0]).toMatchObject({ p50Ms: 2, p99Ms: 2, maxMs: 8 });
    expect(stages[1]).toMatchObject({ p50Ms: 1, maxMs: 2 });
    expect(stages[2]).toMatchObject({ p50Ms: 4, p99Ms: 4, maxMs: 60 });
    expect(stages[3]).toMatchObject({ p50Ms: 3, p99Ms: 3, maxMs: 30 });
    expect(stages.map((s) => s.shareOfSlowest)).toEqual([0.08, 0.02, 0.6, 0.3]);
  });

  it('is empty without probes that carried their provenance', () => {
    expect(alertStages([])).toEqual([]);
  });
});
