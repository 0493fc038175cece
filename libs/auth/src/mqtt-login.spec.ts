import { describe, expect, it } from '@jest/globals';
import { generateDeviceSecret, hashDeviceSecret } from './device-credentials.js';
import { decideMqttLogin, type DeviceCredential } from './mqtt-login.js';

const id = '6c4f2f3e-0d1a-4b8e-9a55-0f1c2d3e4f5a';
const secret = generateDeviceSecret();
const service = { username: 'lantern', password: 'service-secret' };

function lookup(credential: DeviceCredential | undefined): (deviceId: string) => Promise<DeviceCredential | undefined> {
  return (deviceId) => Promise.resolve(deviceId === id ? credential : undefined);
}
const active = lookup({ secretHash: hashDeviceSecret(secret), decommissioned: false });

describe('decideMqttLogin', () => {
  it('lets the service credential in with any client id', async () => {
    expect(
      await decideMqttLogin({ username: 'lantern', password: 'service-secret', clientId: 'anything' }, service, active),
    ).toEqual({ allowed: true, identity: { kind: 'service' } });
  });

  it('lets a device in with its id, its secret and its id as client id', async () => {
    expect(await decideMqttLogin({ username: id, password: secret, clientId: id }, service, active)).toEqual({
      allowed: true,
      identity: { kind: 'device', deviceId: id },
    });
  });

  it.each([
    ['a wrong service password', { username: 'lantern', password: 'x', clientId: 'a' }, 'credentials'],
    ['a wrong device secret, whatever the client id', { username: id, password: 'x', clientId: 'x' }, 'credentials'],
    [
      'an unknown device',
      { username: '0b8f7a2c-5d6e-4f10-8a9b-c1d2e3f4a5b6', password: secret, clientId: id },
      'credentials',
    ],
    ['a user name that is no device id', { username: 'root', password: secret, clientId: 'root' }, 'credentials'],
    ['the device id in upper case', { username: id.toUpperCase(), password: secret, clientId: id }, 'misspelt-id'],
    ['another client id', { username: id, password: secret, clientId: `load-${id}` }, 'client-id'],
    [
      'no client id (a hook configured without it)',
      { username: id, password: secret, clientId: undefined },
      'client-id',
    ],
  ] as const)('refuses %s', async (_name, request, refusal) => {
    expect(await decideMqttLogin(request, service, active)).toMatchObject({ allowed: false, refusal });
  });

  it('refuses a decommissioned device with the right secret', async () => {
    const retired = lookup({ secretHash: hashDeviceSecret(secret), decommissioned: true });
    expect(await decideMqttLogin({ username: id, password: secret, clientId: id }, service, retired)).toEqual({
      allowed: false,
      refusal: 'credentials',
      reason: 'device decommissioned',
    });
  });

  it('has no service user when none is configured', async () => {
    const none = { username: undefined, password: undefined };
    expect(await decideMqttLogin({ username: 'lantern', password: '', clientId: 'a' }, none, active)).toMatchObject({
      allowed: false,
      refusal: 'credentials',
    });
  });
});
