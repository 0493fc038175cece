import { describe, expect, it } from '@jest/globals';
import { monitoringProblems } from './monitoring-banner.js';

describe('monitoringProblems', () => {
  it('is empty only when everything works', () => {
    expect(
      monitoringProblems({
        status: 'ok',
        database: 'up',
        broker: 'up',
        ingest: { status: 'up', problems: [] },
        deliveries: { status: 'up', problems: [] },
      }),
    ).toEqual([]);
  });

  it('names each part that is not working, the ingest in its own words', () => {
    expect(
      monitoringProblems({
        status: 'unavailable',
        database: 'up',
        broker: 'down',
        ingest: { status: 'stalled', problems: ['ingest a: its canary has not come back through the broker for 41 s'] },
        deliveries: { status: 'up', problems: [] },
      }),
    ).toEqual([
      'The device message broker is not reachable.',
      'ingest a: its canary has not come back through the broker for 41 s',
    ]);
  });

  it('treats an unreachable server or an unexplained 503 as an interruption', () => {
    expect(monitoringProblems(null)).toEqual(['Lantern cannot be reached.']);
    expect(
      monitoringProblems({
        status: 'unavailable',
        database: 'up',
        broker: 'up',
        deliveries: { status: 'up', problems: [] },
      }),
    ).toEqual(['Lantern reports a problem.']);
  });
});
