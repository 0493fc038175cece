import { describe, expect, it } from '@jest/globals';
import type { IngestInstanceRecord, IngestInstanceState } from '@lantern/storage';
import { judgeIngest } from './ingest-health.js';

const NOW = Date.UTC(2026, 11, 6, 10, 0, 0);
const STALL = 30_000;

const healthy: IngestInstanceState = {
  connected: true,
  notPublishingForMs: 0,
  subscribed: ['$share/ingest/r/devices/+/telemetry', '$share/ingest/r/devices/+/status', 'r/internal/ingest-canary/i'],
  notConsumingForMs: 0,
  lastMessageAgeMs: 400,
  canaryAgeMs: 1_000,
  canaryRoundTripMs: 3,
  oldestUnackedMs: 0,
  pendingMessages: 0,
  paused: false,
  retryingWriters: [],
};

const instance = (
  state: Partial<IngestInstanceState>,
  heartbeatAgo = 1_000,
  role: 'leader' | 'standby' = 'leader',
  instanceId = 'host-1',
): IngestInstanceRecord => ({
  instanceId,
  clientId: 'lantern-ingest',
  role,
  startedAt: NOW - 3_600_000,
  heartbeatAt: NOW - heartbeatAgo,
  state: { ...healthy, ...state },
});

describe('judgeIngest', () => {
  it('is up when every instance consumes, with ages as of now', () => {
    const verdict = judgeIngest(NOW, [instance({})], STALL);
    expect(verdict.status).toBe('up');
    expect(verdict.problems).toEqual([]);
    // Reported ages grow by the time since the heartbeat (1 s here).
    expect(verdict.instances[0]).toMatchObject({ heartbeatAgeMs: 1_000, canaryAgeMs: 2_000, lastMessageAgeMs: 1_400 });
  });

  it('is down when no instance reports, or one has stopped beating', () => {
    expect(judgeIngest(NOW, [], STALL)).toMatchObject({
      status: 'down',
      problems: ['no ingest is running: readings are not being received'],
    });
    expect(judgeIngest(NOW, [instance({}, 31_000)], STALL)).toMatchObject({
      status: 'down',
      problems: ['ingest lantern-ingest has not reported for 31 s: it may have stopped'],
    });
  });

  it('judges the newest leader of a session: a crashed predecessor and standbys are listed, not judged', () => {
    const verdict = judgeIngest(
      NOW,
      [
        instance({}, 50_000, 'leader', 'crashed'),
        instance({}, 500, 'leader', 'restarted'),
        instance({ connected: false, subscribed: [], notConsumingForMs: 60_000 }, 40_000, 'standby', 'old-standby'),
      ],
      STALL,
    );
    expect(verdict.status).toBe('up');
    expect(verdict.instances.map((i) => i.instanceId)).toEqual(['restarted', 'old-standby', 'crashed']);
    expect(judgeIngest(NOW, [instance({ connected: false }, 500, 'standby')], STALL)).toMatchObject({
      status: 'down',
      problems: ['no ingest is consuming (only standbys are running): readings are not being received'],
    });
  });

  it('is stalled by a canary that does not come back, counting the time since the heartbeat', () => {
    expect(judgeIngest(NOW, [instance({ canaryAgeMs: 29_500 }, 1_000)], STALL)).toMatchObject({
      status: 'stalled',
      problems: ['ingest lantern-ingest: its canary has not come back through the broker for 31 s'],
    });
  });

  it('is stalled by a canary that comes back only after longer than the stall time (the broker queue in front of it)', () => {
    expect(judgeIngest(NOW, [instance({ canaryAgeMs: 2_000, canaryRoundTripMs: 34_000 })], STALL)).toMatchObject({
      status: 'stalled',
      problems: [
        'ingest lantern-ingest is 34 s behind the broker: its canary took that long to come back, and device messages wait as long',
      ],
    });
    expect(judgeIngest(NOW, [instance({ canaryRoundTripMs: 8_000 })], STALL).status).toBe('up');
    // A canary that has not come back at all says more than the last one that did.
    expect(judgeIngest(NOW, [instance({ canaryAgeMs: 40_000, canaryRoundTripMs: 34_000 })], STALL).problems).toEqual([
      'ingest lantern-ingest: its canary has not come back through the broker for 41 s',
    ]);
  });

  it('is stalled by a lost connection (consuming or publishing), no subscription, a stuck message or a failing writer', () => {
    const problems = (state: Partial<IngestInstanceState>): readonly string[] =>
      judgeIngest(NOW, [instance(state)], STALL).problems;
    expect(problems({ connected: false, subscribed: [], notConsumingForMs: 40_000 })).toEqual([
      'ingest lantern-ingest has not been connected to the broker for 41 s',
    ]);
    expect(problems({ subscribed: [], notConsumingForMs: 40_000 })).toEqual([
      'ingest lantern-ingest has been connected but not subscribed for 41 s',
    ]);
    // A reconnect in progress is not yet a stall.
    expect(problems({ connected: false, subscribed: [], notConsumingForMs: 3_000 })).toEqual([]);
    // Its events connection: readings are still stored, but alerts no longer reach the dashboards.
    expect(problems({ notPublishingForMs: 35_000 })).toEqual([
      'ingest lantern-ingest has not been able to publish to the broker for 36 s: alerts are stored but not pushed to dashboards',
    ]);
    expect(problems({ notPublishingForMs: 2_000 })).toEqual([]);
    expect(problems({ oldestUnackedMs: 45_000 })).toEqual([
      'ingest lantern-ingest: a message has waited 46 s to be stored',
    ]);
    expect(problems({ retryingWriters: [{ writer: 'readings', failingForMs: 60_000, attempts: 12 }] })).toEqual([
      'ingest lantern-ingest: writing readings has failed for 61 s',
    ]);
    // Within the bound, a retry or a waiting message is normal work, not a stall.
    expect(
      problems({ oldestUnackedMs: 2_000, retryingWriters: [{ writer: 'readings', failingForMs: 500, attempts: 1 }] }),
    ).toEqual([]);
  });
});
