import { timingSafeEqual } from 'node:crypto';
import { verifyDeviceSecret } from './device-credentials.js';
import { isCanonicalDeviceId, isDeviceClientIdAllowed } from './device-topic-acl.js';

/** What the broker needs to know about a device to let it log in. */
export interface DeviceCredential {
  readonly secretHash: string;
  readonly decommissioned: boolean;
}

/** Lantern's own processes' credential (MQTT_USERNAME / MQTT_PASSWORD): any client id, every topic. */
export interface ServiceCredential {
  readonly username: string | undefined;
  readonly password: string | undefined;
}

export interface MqttLoginRequest {
  readonly username: string;
  readonly password: string;
  /** Absent when an external broker's hook body was configured without it: refused, never skipped. */
  readonly clientId: string | undefined;
}

export type MqttIdentity = { readonly kind: 'service' } | { readonly kind: 'device'; readonly deviceId: string };

/**
 * Why a login is refused: `credentials` (bad user name or password, CONNACK 4); `misspelt-id`, a
 * device id in another letter case (also CONNACK 4, but a misconfigured device worth a log line);
 * `client-id`, a device not using its own id as client id (CONNACK 2).
 */
export type MqttLoginRefusal = 'credentials' | 'misspelt-id' | 'client-id';

/** A login allowed with who it is, or refused with why; the reason is for the broker's log, never a secret. */
export type MqttLoginDecision =
  | { readonly allowed: true; readonly identity: MqttIdentity }
  | { readonly allowed: false; readonly refusal: MqttLoginRefusal; readonly reason: string };

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function refused(refusal: MqttLoginRefusal, reason: string): MqttLoginDecision {
  return { allowed: false, refusal, reason };
}

/**
 * Who may log in to the broker (contract §1), decided here for both the embedded broker and the
 * HTTP hooks of an external one: the service credential with any client id; a device by its id
 * (lowercase canonical, as provisioned) and secret, not decommissioned, with its own id as client
 * id. The client id is judged after the secret, so a wrong secret says nothing about the id.
 */
export async function decideMqttLogin(
  request: MqttLoginRequest,
  service: ServiceCredential,
  findDevice: (deviceId: string) => Promise<DeviceCredential | undefined>,
): Promise<MqttLoginDecision> {
  const { username, password, clientId } = request;
  if (service.username !== undefined && username === service.username)
    return service.password !== undefined && sameText(password, service.password)
      ? { allowed: true, identity: { kind: 'service' } }
      : refused('credentials', 'bad service credentials');
  // Not lowercased: the uuid column would match, but topics and the ingest's state are keyed by the text.
  if (isCanonicalDeviceId(username.toLowerCase()) && !isCanonicalDeviceId(username))
    return refused('misspelt-id', `refused user name '${username}': device ids are lowercase (as provisioned)`);
  if (!isCanonicalDeviceId(username))
    return refused('credentials', 'user name is not a device id in lowercase canonical form');
  const device = await findDevice(username);
  if (device === undefined) return refused('credentials', 'unknown device');
  if (device.decommissioned) return refused('credentials', 'device decommissioned');
  if (!verifyDeviceSecret(password, device.secretHash)) return refused('credentials', 'bad device secret');
  if (clientId === undefined)
    return refused('client-id', 'no clientid in the hook request (configure the broker to send it)');
  if (!isDeviceClientIdAllowed(username, clientId)) return refused('client-id', 'client id differs from the device id');
  return { allowed: true, identity: { kind: 'device', deviceId: username } };
}
