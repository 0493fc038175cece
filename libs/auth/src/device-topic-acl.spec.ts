import { describe, expect, it } from '@jest/globals';
import { isDeviceTopicAllowed } from './device-topic-acl.js';

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
});
