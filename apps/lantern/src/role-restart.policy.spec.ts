import { describe, expect, it } from '@jest/globals';
import { RoleRestartPolicy } from './role-restart.policy.js';
import { formatDuration } from './supervised-role.js';

describe('RoleRestartPolicy', () => {
  it('backs off 1, 2, 4, 8, 16 s and then 30 s at most while runs keep ending within a minute', () => {
    const policy = new RoleRestartPolicy();
    // 20 s runs: not start failures, not healthy either.
    const delays = Array.from({ length: 8 }, () => policy.onExit(20_000));
    expect(delays).toEqual([
      { action: 'restart', delayMs: 1000, restarts: 1 },
      { action: 'restart', delayMs: 2000, restarts: 2 },
      { action: 'restart', delayMs: 4000, restarts: 3 },
      { action: 'restart', delayMs: 8000, restarts: 4 },
      { action: 'restart', delayMs: 16_000, restarts: 5 },
      { action: 'restart', delayMs: 30_000, restarts: 6 },
      { action: 'restart', delayMs: 30_000, restarts: 7 },
      { action: 'restart', delayMs: 30_000, restarts: 8 },
    ]);
    expect(policy.restarts).toBe(8);
  });

  it('starts again from 1 s after a run of a minute or more, and keeps counting restarts', () => {
    const policy = new RoleRestartPolicy();
    policy.onExit(20_000);
    policy.onExit(20_000);
    expect(policy.onExit(20_000)).toEqual({ action: 'restart', delayMs: 4000, restarts: 3 });
    expect(policy.onExit(60_000)).toEqual({ action: 'restart', delayMs: 1000, restarts: 4 });
    expect(policy.onExit(59_999)).toEqual({ action: 'restart', delayMs: 2000, restarts: 5 });
  });

  it('gives up on the fifth run in a row that ended within 15 s of its start', () => {
    const policy = new RoleRestartPolicy();
    expect([1, 2, 3, 4].map(() => policy.onExit(300))).toEqual([
      { action: 'restart', delayMs: 1000, restarts: 1 },
      { action: 'restart', delayMs: 2000, restarts: 2 },
      { action: 'restart', delayMs: 4000, restarts: 3 },
      { action: 'restart', delayMs: 8000, restarts: 4 },
    ]);
    expect(policy.onExit(14_999)).toEqual({ action: 'give-up', startFailures: 5 });
  });

  it('counts start failures in a row only: a longer run in between resets the count', () => {
    const policy = new RoleRestartPolicy();
    for (let i = 0; i < 4; i++) policy.onExit(100);
    expect(policy.onExit(15_000)).toEqual({ action: 'restart', delayMs: 16_000, restarts: 5 });
    for (let i = 0; i < 4; i++) expect(policy.onExit(100).action).toBe('restart');
    expect(policy.onExit(100)).toEqual({ action: 'give-up', startFailures: 5 });
  });
});

describe('formatDuration', () => {
  it('writes how long a role ran or waits the way the restart line reads best', () => {
    expect([1000, 2500, 9_999, 45_000, 119_000, 840_000, 8_040_000].map(formatDuration)).toEqual([
      '1 s',
      '2.5 s',
      '10 s',
      '45 s',
      '119 s',
      '14 min',
      '2 h 14 min',
    ]);
  });
});
