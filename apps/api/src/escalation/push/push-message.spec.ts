import { describe, expect, it } from '@jest/globals';
import type { AlertResource } from '@lantern/domain';
import type { PendingDelivery } from '../delivery-channel.js';
import { pushDeliveryOptions, pushPayload } from './push-message.js';

const alert: AlertResource = {
  id: 'a1',
  patientId: 'p1',
  rule: 'spo2.low',
  metric: 'spo2',
  priority: 'medium',
  state: 'open',
  message: 'SpO2 89% — below 90% for 5 min (low oxygen)',
  value: 89,
  openedAt: new Date(Date.UTC(2026, 11, 6, 9, 30)).toISOString(),
  lastTriggeredAt: new Date(Date.UTC(2026, 11, 6, 9, 30)).toISOString(),
  escalationLevel: 0,
  late: false,
};

function delivery(role: PendingDelivery['recipient']['role'], patientName = 'Bruno Lima'): PendingDelivery {
  return {
    id: 'd1',
    alertId: 'a1',
    patientId: 'p1',
    patientName,
    tier: 1,
    recipient: { id: 'u1', role },
    channel: 'push',
    target: 's1',
    attempts: 0,
    alert,
    receiptToken: 'tok',
  };
}

describe('pushPayload', () => {
  it('tells a caregiver or clinician whose alert it is and what the board shows of it', () => {
    for (const role of ['caregiver', 'clinician', 'admin'] as const)
      expect(pushPayload(delivery(role), undefined)).toEqual({
        deliveryId: 'd1',
        receiptToken: 'tok',
        receiptUrl: '/api/v1/deliveries/d1/receipt',
        title: 'Medium alert for Bruno Lima',
        body: 'SpO2 89% — below 90% for 5 min (low oxygen)',
        alertId: 'a1',
        patientId: 'p1',
        priority: 'medium',
      });
  });

  it("gives the patient their notification's words, never the clinician message", () => {
    const text = { title: 'Your oxygen level is low', body: 'Your latest reading was 89 percent.' };
    expect(pushPayload(delivery('patient'), text)).toMatchObject(text);
    expect(pushPayload(delivery('patient'), undefined)).toMatchObject({
      title: 'Lantern has an alert for you',
      body: 'Open Lantern to see it. Your care team has been told.',
    });
  });

  it('cuts long words so the encrypted payload stays within what push services take', () => {
    const payload = pushPayload(delivery('clinician', 'N'.repeat(500)), undefined);
    expect(payload.title).toHaveLength(120);
    expect(payload.title.endsWith('…')).toBe(true);
    expect(
      Buffer.byteLength(
        JSON.stringify(pushPayload(delivery('patient'), { title: 'é'.repeat(999), body: 'ü'.repeat(9999) })),
      ),
    ).toBeLessThan(3000);
  });
});

describe('pushDeliveryOptions', () => {
  it('wakes the device at once for a high alert, and keeps lower ones longer for its next wake-up', () => {
    expect(pushDeliveryOptions('high')).toEqual({ ttlSec: 3600, urgency: 'high' });
    expect(pushDeliveryOptions('medium')).toEqual({ ttlSec: 14_400, urgency: 'normal' });
    expect(pushDeliveryOptions('low')).toEqual({ ttlSec: 43_200, urgency: 'low' });
  });
});
