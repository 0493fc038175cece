import { describe, expect, it } from '@jest/globals';
import type { LoadProcess } from '../load-process.js';
import type { SustainedResult } from './sustained-ingest.phase.js';
import { connectionsFor, measureScaling, parseScaling } from './scaling.phase.js';

describe('parseScaling', () => {
  it('reads DEVICESxREADINGS[/CONNECTIONS] lists and refuses anything else', () => {
    expect(parseScaling('1000x2, 10000x10,50000x2/10000')).toEqual([
      { devices: 1000, readingsPerMessage: 2 },
      { devices: 10000, readingsPerMessage: 10 },
      { devices: 50000, readingsPerMessage: 2, connections: 10000 },
    ]);
    expect(() => parseScaling('10000')).toThrow('not DEVICESxREADINGS');
    expect(() => parseScaling('100x2/0')).toThrow('1 ≤ CONNECTIONS ≤ DEVICES');
    expect(() => parseScaling('100x2/101')).toThrow('1 ≤ CONNECTIONS ≤ DEVICES');
  });
});

describe('connectionsFor', () => {
  it('gives every device its own connection while they fit, else shares the most that fit evenly', () => {
    expect(connectionsFor({ devices: 10_000, readingsPerMessage: 2 }, 20_000)).toBe(10_000);
    expect(connectionsFor({ devices: 10_000, readingsPerMessage: 2 }, undefined)).toBe(10_000);
    // 19,744 fit beside the 256 files kept for the rest: 3 devices on each connection.
    expect(connectionsFor({ devices: 50_000, readingsPerMessage: 2 }, 20_000)).toBe(16_667);
    expect(connectionsFor({ devices: 19_744, readingsPerMessage: 2 }, 20_000)).toBe(19_744);
    expect(connectionsFor({ devices: 19_745, readingsPerMessage: 2 }, 20_000)).toBe(9_873);
    expect(connectionsFor({ devices: 50_000, readingsPerMessage: 2, connections: 10_000 }, 20_000)).toBe(10_000);
    expect(connectionsFor({ devices: 50_000, readingsPerMessage: 2, connections: 30_000 }, 20_000)).toBeUndefined();
  });
});

describe('measureScaling', () => {
  it('runs a shape with more devices than processes may open files on shared connections, and says so in its row', async () => {
    const started: { devices: number; readingsPerMessage: number; connections: number }[] = [];
    const rows = await measureScaling({
      configs: [{ devices: 50_000, readingsPerMessage: 2 }],
      seed: (n) =>
        Promise.resolve(Array.from({ length: n }, (_, i) => ({ deviceId: `d${i}`, secret: 's', patientId: 'p' }))),
      startLoad: (devices, shape) => {
        started.push({ devices: devices.length, ...shape });
        return Promise.resolve({ stop: () => Promise.resolve() } as unknown as LoadProcess);
      },
      sustained: () =>
        Promise.resolve({
          sustainedReadingsPerSec: 20_000,
          steps: [
            { rate: 20_000, passed: true, cpuMicrosPerReading: { process: 20, database: 30 } },
            { rate: 25_000, passed: false, why: 'the simulator reached 21,000/s' },
          ],
        } as unknown as SustainedResult),
      fileLimit: 20_000,
      log: () => undefined,
    });
    expect(started).toEqual([{ devices: 50_000, readingsPerMessage: 2, connections: 16_667 }]);
    expect(rows).toEqual([
      {
        devices: 50_000,
        readingsPerMessage: 2,
        connections: 16_667,
        sustainedReadingsPerSec: 20_000,
        firstFailure: 'the simulator reached 21,000/s',
        cpuMicrosPerReading: { process: 20, database: 30 },
        readingsPerCore: 20_000,
      },
    ]);
  });

  it('lets the ingest store what the shape before left before starting the next, and records a shape it cannot start', async () => {
    const calls: string[] = [];
    let settles = 0;
    const rows = await measureScaling({
      configs: [
        { devices: 10, readingsPerMessage: 2 },
        { devices: 20, readingsPerMessage: 10 },
      ],
      seed: (n) =>
        Promise.resolve(Array.from({ length: n }, (_, i) => ({ deviceId: `d${i}`, secret: 's', patientId: 'p' }))),
      settle: () => {
        calls.push('settle');
        if (++settles === 2) return Promise.reject(new Error('the ingest did not catch up with the load within 180 s'));
        return Promise.resolve(3);
      },
      startLoad: (devices) => {
        calls.push(`start ${devices.length}`);
        return Promise.resolve({ stop: () => Promise.resolve() } as unknown as LoadProcess);
      },
      sustained: () => {
        calls.push('ladder');
        return Promise.resolve({ sustainedReadingsPerSec: 1000, steps: [] } as unknown as SustainedResult);
      },
      fileLimit: 20_000,
      log: () => undefined,
    });
    expect(calls).toEqual(['settle', 'start 10', 'ladder', 'settle']);
    expect(rows[1]).toEqual({
      devices: 20,
      readingsPerMessage: 10,
      connections: 20,
      error: 'the ingest did not catch up with the load within 180 s',
    });
  });

  it('does not start a shape whose connections are more than processes may open files, and says why in its row', async () => {
    const seeded: number[] = [];
    const rows = await measureScaling({
      configs: [{ devices: 50_000, readingsPerMessage: 2, connections: 30_000 }],
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
        connections: 30_000,
        error:
          '30000 connections need as many sockets in the simulator and in the broker, and processes here may open 20000 files (ulimit -n)',
      },
    ]);
  });
});
