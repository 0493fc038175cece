import type { DeviceCredential } from '@lantern/auth';

/**
 * Finds a device's stored credential by id; undefined when no such device exists. Satisfied by
 * libs/storage's DeviceCredentialRepository (or a test double).
 */
export interface DeviceCredentialLookup {
  find(deviceId: string): Promise<DeviceCredential | undefined>;
}
