import { describe, expect, it } from '@jest/globals';
import { measureScaling, parseScaling } from './scaling.phase.js';

describe('parseScaling', () => {
  it('reads DEVICESxREADINGS lists and refuses anything else', () => {
    expect(parseScaling('1000x2, 10000x10')).toEqual([
      { devices: 1000, readingsPerMessage: 2 },
      { devices: 10000, readingsPerMessage: 10 },
    ]);
    expect(() => parseScaling('10000')).toThrow('not DEVICESxREADINGS');
  });
});

describe('measureScaling', () => {
  it('does not start a shape with more connections than processes may open files, and says why in its row', async () => {
    const seeded: number[] = [];
    const rows = await measureScaling({
      configs: [{ devices: 50_000, readingsPerMessage: 2 }],
      seed: (n) => {
        seeded.push(n);
        return Promise.resolve([]);
      },
      startLoad: () => Promise.reject(new Error('must not start')),
      sustained: () => Promise.reject(new Error('must not run')),
      fileLimit: 20_000,
      log: () => undefined,
    });
    expect(seeded).toEqual([]);
    expect(rows).toEqual([
      {
        devices: 50_000,
        readingsPerMessage: 2,
        error:
          '50000 connections need as many sockets in the simulator and in the broker, and processes here may open 20000 files (ulimit -n)',
      },
    ]);
  });
});
