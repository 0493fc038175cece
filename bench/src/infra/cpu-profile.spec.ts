import { describe, expect, it } from '@jest/globals';
import { summarizeProfile, type CpuProfile } from './cpu-profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

describe('summarizeProfile', () => {
  it('sums self time per function, leaves idle out of the shares, and names files briefly', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('admit', 'file:///work/dist/apps/ingest/pipeline/reading-admission.js', 30) },
        { id: 4, callFrame: frame('(garbage collector)') },
        { id: 5, callFrame: frame('', 'file:///work/node_modules/prom-client/lib/histogram.js', 231) },
        // The same function reached by another path: one entry.
        { id: 6, callFrame: frame('admit', 'file:///work/dist/apps/ingest/pipeline/reading-admission.js', 30) },
      ],
      samples: [2, 3, 3, 4, 5, 6, 2],
      timeDeltas: [1000, 2000, 2000, 1000, 500, 1500, 2000],
    };
    const summary = summarizeProfile(profile, 3);
    // Two profiles of one role (a restarted process) add up.
    expect(summarizeProfile([profile, profile], 1).top).toEqual([
      { fn: 'admit pipeline/reading-admission.js:31', selfMs: 11, share: 11 / 14 },
    ]);
    expect(summary.totalMs).toBe(10);
    expect(summary.busyMs).toBe(7);
    expect(summary.top).toEqual([
      { fn: 'admit pipeline/reading-admission.js:31', selfMs: 5.5, share: 5.5 / 7 },
      { fn: '(garbage collector)', selfMs: 1, share: 1 / 7 },
      { fn: '(anonymous) prom-client/histogram.js:232', selfMs: 0.5, share: 0.5 / 7 },
    ]);
  });
});
