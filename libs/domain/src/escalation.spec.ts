import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_ESCALATION,
  MAX_TIERS_PER_PRIORITY,
  nextTier,
  parseEscalationPolicy,
  tierChannels,
  type EscalationTier,
} from './escalation.js';

/**
 * Walks a chain with a test clock: every tier the chain service would fan out between `from` and
 * `to` (ms after raising), stepping one second at a time like its tick, as [tier index, second].
 * `reachesNobody` lists the tiers that turn out to reach no one.
 */
function walk(tiers: readonly EscalationTier[], to: number, reachesNobody: readonly number[] = []): [number, number][] {
  const out: [number, number][] = [];
  let progress = { raisedAt: 0, tierDone: -1, unreachableSince: null as number | null };
  for (let now = 0; now <= to; now += 1000) {
    for (;;) {
      const next = nextTier(tiers, progress);
      if (next === undefined || next.dueAt > now) break;
      out.push([next.index, now / 1000]);
      progress = {
        ...progress,
        tierDone: next.index,
        unreachableSince: reachesNobody.includes(next.index) ? now : null,
      };
    }
  }
  return out;
}

describe('escalation chain (spec/alerting.md §5)', () => {
  it('walks the default high chain: patient, caregivers and care team at once, the care team at 5 min, the webhook at 10', () => {
    expect(walk(DEFAULT_ESCALATION.high, 3_600_000)).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 300],
      [4, 600],
    ]);
    expect(DEFAULT_ESCALATION.high.map((t) => t.notify)).toEqual([
      'patient',
      'caregivers',
      'care_team',
      'care_team',
      'webhook',
    ]);
  });

  it('walks the default medium chain: patient and care team at once, caregivers and the care team at 15 min', () => {
    expect(walk(DEFAULT_ESCALATION.medium, 3_600_000)).toEqual([
      [0, 0],
      [1, 0],
      [2, 900],
      [3, 900],
    ]);
  });

  it('keeps low alerts on the care team board: no push, no e-mail, nobody else', () => {
    expect(DEFAULT_ESCALATION.low).toEqual([{ notify: 'care_team', afterSec: 0, channels: ['socket'] }]);
    expect(tierChannels(DEFAULT_ESCALATION.low[0])).toEqual(['socket']);
    expect(tierChannels(DEFAULT_ESCALATION.high[0])).toEqual(['socket', 'push', 'email']);
    expect(tierChannels({ notify: 'webhook', afterSec: 0 })).toEqual([]);
  });

  it('does not hold the chain for a tier that reaches nobody: the next one starts at once', () => {
    // The care team at 0 s reaches nobody (everyone's channels failed): the 5 min tier goes at once.
    expect(walk(DEFAULT_ESCALATION.high, 3_600_000, [2])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 600],
    ]);
    // Unreachable at 42 s (the socket delivery expired, say): the next tier at 42 s, not at 300 s.
    const tiers: EscalationTier[] = [
      { notify: 'patient', afterSec: 0 },
      { notify: 'care_team', afterSec: 300 },
    ];
    expect(nextTier(tiers, { raisedAt: 1000, tierDone: 0, unreachableSince: 43_000 })).toEqual({
      index: 1,
      dueAt: 43_000,
    });
    expect(nextTier(tiers, { raisedAt: 1000, tierDone: 1, unreachableSince: null })).toBeUndefined();
  });

  describe('a policy sent by a client', () => {
    it('is taken whole when valid, unknown fields dropped and channels deduplicated', () => {
      const parsed = parseEscalationPolicy({
        high: [{ notify: 'patient', afterSec: 0, channels: ['push', 'push', 'email'], colour: 'red' }],
        medium: [],
        low: [{ notify: 'care_team', afterSec: 60 }],
      });
      expect(parsed).toEqual({
        policy: {
          high: [{ notify: 'patient', afterSec: 0, channels: ['push', 'email'] }],
          medium: [],
          low: [{ notify: 'care_team', afterSec: 60 }],
        },
      });
      expect(parseEscalationPolicy(DEFAULT_ESCALATION)).toEqual({ policy: DEFAULT_ESCALATION });
    });

    it('names every problem by its field', () => {
      const parsed = parseEscalationPolicy({
        high: [
          { notify: 'care_team', afterSec: 600 },
          { notify: 'patient', afterSec: 10 },
          { notify: 'pager', afterSec: 1.5, channels: [] },
        ],
        low: 'none',
        urgent: [],
      });
      expect(parsed).toEqual({
        errors: [
          'urgent is not an alert priority',
          'high[1].afterSec must not be less than the tier before it',
          'high[2].notify must be one of patient, caregivers, care_team, webhook',
          'high[2].afterSec must be a whole number of seconds from 0 to 86400',
          'high[2].channels must be a non-empty list of socket, push, email',
          'medium must be a list of tiers',
          'low must be a list of tiers',
        ],
      });
      expect(parseEscalationPolicy([])).toEqual({ errors: ['body must be an object'] });
      const many = Array.from({ length: MAX_TIERS_PER_PRIORITY + 1 }, () => ({ notify: 'patient', afterSec: 0 }));
      expect(parseEscalationPolicy({ high: many, medium: [], low: [] })).toEqual({
        errors: [`high has more than ${MAX_TIERS_PER_PRIORITY} tiers`],
      });
    });
  });
});
