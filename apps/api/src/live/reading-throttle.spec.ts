import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { LiveReadingEvent } from '@lantern/domain';
import { ReadingThrottle } from './reading-throttle.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

function reading(
  value: number,
  atMs: number,
  metric: LiveReadingEvent['metric'] = 'heart_rate',
  patientId = 'p1',
): LiveReadingEvent {
  return { patientId, deviceId: 'd1', metric, value, unit: '/min', ts: new Date(atMs).toISOString() };
}

describe('ReadingThrottle', () => {
  let emitted: LiveReadingEvent[];
  let throttle: ReadingThrottle;

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    emitted = [];
    throttle = new ReadingThrottle(1000, (e) => emitted.push(e));
  });
  afterEach(() => {
    throttle.clear();
    jest.useRealTimers();
  });

  it('emits the first reading at once and the latest of a burst at the end of the interval', () => {
    throttle.offer(reading(70, T0));
    expect(emitted.map((e) => e.value)).toEqual([70]);
    jest.advanceTimersByTime(100);
    throttle.offer(reading(71, T0 + 100));
    throttle.offer(reading(72, T0 + 200));
    throttle.offer(reading(73, T0 + 300));
    expect(emitted.map((e) => e.value)).toEqual([70]);
    jest.advanceTimersByTime(899);
    expect(emitted.map((e) => e.value)).toEqual([70]);
    jest.advanceTimersByTime(1);
    expect(emitted.map((e) => e.value)).toEqual([70, 73]);
    jest.advanceTimersByTime(5000);
    expect(emitted).toHaveLength(2);
  });

  it('emits at once again after a quiet interval', () => {
    throttle.offer(reading(70, T0));
    jest.advanceTimersByTime(1500);
    throttle.offer(reading(75, T0 + 1500));
    expect(emitted.map((e) => e.value)).toEqual([70, 75]);
  });

  it('keeps the reading with the newest event time, not the last to arrive', () => {
    throttle.offer(reading(70, T0));
    throttle.offer(reading(80, T0 + 500));
    throttle.offer(reading(60, T0 + 400)); // backfilled, older
    throttle.offer(reading(50, T0 - 1000)); // older than what is on screen
    jest.advanceTimersByTime(1000);
    expect(emitted.map((e) => e.value)).toEqual([70, 80]);
  });

  it('throttles each (patient, metric) on its own', () => {
    throttle.offer(reading(70, T0));
    throttle.offer(reading(95, T0, 'spo2'));
    throttle.offer(reading(60, T0, 'heart_rate', 'p2'));
    expect(emitted).toHaveLength(3);
  });

  it('drops held values of a patient nobody watches any more', () => {
    throttle.offer(reading(70, T0));
    throttle.offer(reading(71, T0 + 10));
    throttle.forgetPatient('p1');
    jest.advanceTimersByTime(2000);
    expect(emitted.map((e) => e.value)).toEqual([70]);
  });

  it('passes everything through with a zero interval', () => {
    const all: number[] = [];
    const passthrough = new ReadingThrottle(0, (e) => all.push(e.value));
    passthrough.offer(reading(1, T0));
    passthrough.offer(reading(2, T0 + 1));
    passthrough.offer(reading(3, T0 + 2));
    expect(all).toEqual([1, 2, 3]);
  });
});
