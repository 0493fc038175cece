import { describe, expect, it } from '@jest/globals';
import { decodeInternalEvent, encodeInternalEvent, internalEventKind } from './internal-events.js';
import { topicsFor } from './topics.js';

const topics = topicsFor('lantern/v1');
const id = '6c4f2f3e-0d1a-4b8e-9a55-0f1c2d3e4f5a';
const bytes = (body: unknown): Buffer => Buffer.from(JSON.stringify(body), 'utf8');

describe('internal events', () => {
  it('names each internal topic once, under the root', () => {
    expect([topics.rulesChanged, topics.alertChanged, topics.deviceRevoked]).toEqual([
      'lantern/v1/internal/rules-changed',
      'lantern/v1/internal/alert-changed',
      'lantern/v1/internal/device-revoked',
    ]);
    expect(internalEventKind(topics, 'lantern/v1/internal/alert-changed')).toBe('alertChanged');
    expect(internalEventKind(topics, 'lantern/v1/internal/ingest-canary/x')).toBeUndefined();
  });

  it('decodes what it encodes', () => {
    const event = encodeInternalEvent(topics, 'alertChanged', { alertId: id, transitions: ['acknowledged'] });
    expect(event.topic).toBe(topics.alertChanged);
    expect(decodeInternalEvent('alertChanged', Buffer.from(event.payload))).toEqual({
      alertId: id,
      transitions: ['acknowledged'],
    });
    expect(decodeInternalEvent('rulesChanged', JSON.stringify({ patientId: id }))).toEqual({ patientId: id });
    expect(decodeInternalEvent('deviceRevoked', bytes({ deviceId: id }))).toEqual({ deviceId: id });
  });

  it('reads an alert change without transitions as none (an older api)', () => {
    expect(decodeInternalEvent('alertChanged', bytes({ alertId: id }))).toEqual({ alertId: id, transitions: [] });
  });

  it.each([
    ['not JSON', 'rulesChanged', Buffer.from('{patientId', 'utf8')],
    ['an array', 'rulesChanged', bytes([id])],
    ['no id', 'rulesChanged', bytes({})],
    ['an id that is no UUID', 'rulesChanged', bytes({ patientId: 'x' })],
    ['a numeric id', 'deviceRevoked', bytes({ deviceId: 7 })],
    ['an empty device id', 'deviceRevoked', bytes({ deviceId: '' })],
    ['an unknown transition', 'alertChanged', bytes({ alertId: id, transitions: ['opened', 'exploded'] })],
    ['transitions not a list', 'alertChanged', bytes({ alertId: id, transitions: 'opened' })],
  ] as const)('refuses %s', (_name, kind, payload) => {
    expect(decodeInternalEvent(kind, payload)).toBeUndefined();
  });
});
