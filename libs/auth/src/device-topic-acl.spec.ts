import { describe, expect, it } from '@jest/globals';
import { isCanonicalDeviceId, isDeviceClientIdAllowed, isDeviceTopicAllowed } from './device-topic-acl.js';

const root = 'lantern/v1';
const id = '6c4f2f3e-0d1a-4b8e-9a55-0f1c2d3e4f5a';
const other = '0b8f7a2c-5d6e-4f10-8a9b-c1d2e3f4a5b6';

describe('isDeviceTopicAllowed', () => {
  it.each([
    ['publish', `${root}/devices/${id}/telemetry`, true],
    ['publish', `${root}/devices/${id}/status`, true],
    ['publish', `${root}/devices/${id}/errors`, false],
    ['publish', `${root}/devices/${other}/telemetry`, false],
    ['publish', `${root}/devices/${id}/telemetry/extra`, false],
    ['publish', `${root}/devices/+/telemetry`, false],
    ['publish', `${root}/events/patients/x/alerts`, false],
    ['publish', `other/devices/${id}/telemetry`, false],
    ['subscribe', `${root}/devices/${id}/errors`, true],
    ['subscribe', `${root}/devices/${id}/telemetry`, false],
    ['subscribe', `${root}/devices/${other}/errors`, false],
    ['subscribe', `${root}/devices/+/errors`, false],
    ['subscribe', `${root}/#`, false],
  ] as const)('%s %s → %s', (action, topic, allowed) => {
    expect(isDeviceTopicAllowed(root, id, action, topic)).toBe(allowed);
  });

  it('grants nothing to a device id that is not canonical, even on the topics spelled its way', () => {
    const upper = id.toUpperCase();
    expect(isDeviceTopicAllowed(root, upper, 'publish', `${root}/devices/${upper}/telemetry`)).toBe(false);
    expect(isDeviceTopicAllowed(root, '+', 'publish', `${root}/devices/+/telemetry`)).toBe(false);
    expect(isDeviceTopicAllowed(root, '', 'subscribe', `${root}/devices//errors`)).toBe(false);
  });
});

describe('isCanonicalDeviceId', () => {
  it.each([
    [id, true],
    [id.toUpperCase(), false],
    [`${id.slice(0, 9)}${id.slice(9).toUpperCase()}`, false],
    [id.replaceAll('-', ''), false],
    [`{${id}}`, false],
    [` ${id}`, false],
    ['lantern-ingest', false],
    ['', false],
  ])('%s → %s', (value, canonical) => {
    expect(isCanonicalDeviceId(value)).toBe(canonical);
  });
});

describe('isDeviceClientIdAllowed', () => {
  it.each([
    [id, id, true],
    [id, other, false],
    [id, 'lantern-ingest', false],
    [id, `device-${id}`, false],
    [id, id.toUpperCase(), false],
    [id, '', false],
    [id, undefined, false],
    [id.toUpperCase(), id.toUpperCase(), false],
  ])('device %s with client id %s → %s', (deviceId, clientId, allowed) => {
    expect(isDeviceClientIdAllowed(deviceId, clientId)).toBe(allowed);
  });
});
