import { describe, expect, it } from '@jest/globals';
import { DEFAULT_ESCALATION, type AlertDeliveryResource, type AlertResource } from '@lantern/domain';
import type { AlertTimeline } from '@lantern/domain';
import { deliveryStatus, relative, timelineLines, timelineSummary } from './alert-timeline.js';
import { isDefaultPolicy, policyOf } from './escalation-editor.js';

const T0 = Date.UTC(2026, 11, 6, 3, 12, 0);
const at = (sec: number): string => new Date(T0 + sec * 1000).toISOString();

const ALERT: AlertResource = {
  id: 'a1',
  patientId: 'p1',
  rule: 'glucose.urgent_low',
  metric: 'glucose',
  priority: 'high',
  state: 'open',
  message: 'Glucose 47 mg/dL below 54',
  openedAt: at(-2),
  lastTriggeredAt: at(-2),
  raisedAt: at(0),
  escalationLevel: 0,
  late: false,
};

function delivery(over: Partial<AlertDeliveryResource>): AlertDeliveryResource {
  return {
    id: Math.random().toString(36),
    alertId: 'a1',
    recipient: { id: 'u-ana', role: 'patient', name: 'Ana Souza' },
    channel: 'socket',
    tier: 0,
    attempts: 1,
    sentAt: at(0),
    ...over,
  };
}

function timeline(over: Partial<AlertTimeline> = {}): AlertTimeline {
  return {
    alert: ALERT,
    deliveries: [],
    confirmation: null,
    tiers: [
      { index: 0, notify: 'patient', afterSec: 0, dueAt: at(0), reachedAt: at(0) },
      { index: 1, notify: 'care_team', afterSec: 0, dueAt: at(0), reachedAt: at(0) },
      { index: 2, notify: 'care_team', afterSec: 300, dueAt: at(300) },
      { index: 3, notify: 'webhook', afterSec: 600, dueAt: at(600) },
    ],
    ...over,
  };
}

describe('timelineLines', () => {
  it('lists raise, steps, deliveries with receipts, the confirmation and the steps no longer needed, in time order', () => {
    const t = timeline({
      deliveries: [
        delivery({ deliveredAt: at(1), readAt: at(40) }),
        delivery({
          recipient: { id: 'u-ada', role: 'clinician', name: 'Dr Ada Reyes' },
          tier: 1,
          channel: 'email',
          sentAt: at(2),
          failedAt: at(70),
          attempts: 3,
          error: '550 mailbox unavailable',
        }),
      ],
      confirmation: { at: at(60), by: { id: 'u-ana', role: 'patient', name: 'Ana Souza' } },
    });
    const lines = timelineLines(t, T0 + 120_000);
    expect(lines.map((l) => [l.at, l.kind, l.text])).toEqual([
      [at(0), 'raised', 'Alert raised: Glucose 47 mg/dL below 54'],
      [at(0), 'step', 'Step 1 started: notify the patient (at once).'],
      [at(0), 'step', 'Step 2 started: notify the care team (at once).'],
      [at(0), 'delivery', 'Sent to Ana Souza (the patient) on the open Lantern page (step 1).'],
      [at(2), 'delivery', 'Sent to Dr Ada Reyes (care team) by email (step 2).'],
      [at(60), 'confirmed', 'Ana Souza (the patient) said they are taking care of it. Escalation stopped.'],
      [at(300), 'next', 'Step 3, notify the care team: not needed, the alert was taken care of first.'],
      [at(600), 'next', 'Step 4, notify the webhook (on-call system): not needed, the alert was taken care of first.'],
    ]);
    expect(lines[3].receipts).toEqual([
      { what: 'delivered', at: at(1) },
      { what: 'read', at: at(40) },
    ]);
    expect(lines[3].attrs).toEqual({ channel: 'socket', role: 'patient', status: 'read', recipientId: 'u-ana' });
    expect(lines[4].receipts).toEqual([{ what: 'failed after 3 attempts: 550 mailbox unavailable', at: at(70) }]);
    expect(lines[4].attrs?.status).toBe('failed');
  });

  it("says a clinician's acknowledgement stopped the chain in one line, and what is still to come otherwise", () => {
    const acknowledged = timeline({
      alert: { ...ALERT, state: 'acknowledged', acknowledgedAt: at(90), acknowledgedBy: 'u-ada' },
      deliveries: [delivery({ recipient: { id: 'u-ada', role: 'clinician', name: 'Dr Ada Reyes' }, tier: 1 })],
      confirmation: { at: at(90), by: { id: 'u-ada', role: 'clinician', name: 'Dr Ada Reyes' } },
    });
    const lines = timelineLines(acknowledged, T0 + 120_000).filter((l) => l.at === at(90));
    expect(lines.map((l) => [l.kind, l.text])).toEqual([
      ['acknowledged', 'Acknowledged by Dr Ada Reyes. Escalation stopped.'],
    ]);

    const waiting = timelineLines(timeline(), T0 + 120_000).filter((l) => l.kind === 'next');
    expect(waiting.map((l) => l.text)).toEqual([
      'Step 3, notify the care team: due in 3 min unless someone confirms.',
      'Step 4, notify the webhook (on-call system): due in 8 min unless someone confirms.',
    ]);
  });

  it('sums up who confirmed, or what comes next, with the deliveries counted', () => {
    const t = timeline({ deliveries: [delivery({ deliveredAt: at(1) }), delivery({ channel: 'push' })] });
    expect(timelineSummary(t, T0 + 120_000)).toBe(
      'Nobody has confirmed yet. Next: the care team, in 3 min. 2 deliveries: 1 delivered, 0 failed, 1 without receipt yet.',
    );
    expect(deliveryStatus(delivery({ deliveredAt: at(1), acknowledgedAt: at(5) }))).toBe('confirmed');
    expect(relative(at(30), T0 + 120_000)).toBe('2 min ago');
    expect(relative(at(130), T0 + 120_000)).toBe('in a few seconds');
  });
});

describe('escalation editor', () => {
  it('recognises the defaults and sends what was typed, a blank delay as null for the server to name', () => {
    expect(isDefaultPolicy(DEFAULT_ESCALATION)).toBe(true);
    expect(isDefaultPolicy({ ...DEFAULT_ESCALATION, low: [] })).toBe(false);
    const policy = policyOf({
      high: [
        { notify: 'patient', afterSec: '0' },
        { notify: 'webhook', afterSec: '' },
      ],
      medium: [{ notify: 'care_team', afterSec: '900' }],
      low: [{ notify: 'care_team', afterSec: '0', channels: ['socket'] }],
    });
    expect(policy).toEqual({
      high: [
        { notify: 'patient', afterSec: 0 },
        { notify: 'webhook', afterSec: null },
      ],
      medium: [{ notify: 'care_team', afterSec: 900 }],
      low: [{ notify: 'care_team', afterSec: 0, channels: ['socket'] }],
    });
  });
});
