import { describe, expect, it } from '@jest/globals';
import type { LanternConfig } from '@lantern/config';
import type { DeviceSeen, DeviceStatusRepository, IngestDevice } from '@lantern/storage';
import type { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { DevicePresenceService, LAST_SEEN_RESOLUTION_MS } from './device-presence.service.js';
import type { DeviceRegistryService } from './device-registry.service.js';

function presence(failures = 0) {
  const writes: DeviceSeen[][] = [];
  const repository = {
    touchLastSeen: (seen: readonly DeviceSeen[]) =>
      failures-- > 0 ? Promise.reject(new Error('connection terminated')) : (writes.push([...seen]), Promise.resolve()),
  };
  const registry = { update: () => undefined };
  const connection = { publish: () => undefined };
  const service = new DevicePresenceService(
    { mqttTopicRoot: 'lantern' } as LanternConfig,
    registry as unknown as DeviceRegistryService,
    repository as unknown as DeviceStatusRepository,
    connection as unknown as IngestMqttConnection,
  );
  return { service, writes };
}

const device = (id: string, online = true): IngestDevice => ({
  id,
  patientId: 'p',
  type: 'pulse_oximeter',
  decommissioned: false,
  online,
});

describe('DevicePresenceService: last_seen_at writes', () => {
  it('writes a device again only once its last-seen moved by LAST_SEEN_RESOLUTION_MS, and everything on a final flush', async () => {
    const { service, writes } = presence();
    const t = 1_000_000;
    service.heardFrom(device('a'), t);
    await service.flush();
    service.heardFrom(device('a'), t + 1000);
    await service.flush();
    service.heardFrom(device('a'), t + LAST_SEEN_RESOLUTION_MS);
    await service.flush();
    service.heardFrom(device('a'), t + LAST_SEEN_RESOLUTION_MS + 500);
    await service.flush(true);
    expect(writes.map((w) => w.map((s) => s.lastSeenAt - t))).toEqual([
      [0],
      [LAST_SEEN_RESOLUTION_MS],
      [LAST_SEEN_RESOLUTION_MS + 500],
    ]);
  });

  it('keeps what a failed write held for the next flush, unless something newer was heard meanwhile', async () => {
    const { service, writes } = presence(1);
    const t = 1_000_000;
    service.heardFrom(device('c'), t);
    service.heardFrom(device('d'), t);
    await service.flush(); // fails
    service.heardFrom(device('d'), t + 500);
    await service.flush();
    // c as it was held; d with the newer time heard after the failure, not the older one the write held.
    expect(writes).toEqual([
      [
        { deviceId: 'c', lastSeenAt: t },
        { deviceId: 'd', lastSeenAt: t + 500 },
      ],
    ]);
  });

  it('leaves what a write in progress holds as it was when heard from again meanwhile (entries are updated in place)', async () => {
    const { service, writes } = presence();
    const t = 1_000_000;
    service.heardFrom(device('e'), t);
    service.heardFrom(device('e'), t + 100); // updates the pending entry
    const writing = service.flush();
    service.heardFrom(device('e'), t + LAST_SEEN_RESOLUTION_MS + 100); // after the flush took the entry
    await writing;
    await service.flush();
    expect(writes).toEqual([
      [{ deviceId: 'e', lastSeenAt: t + 100 }],
      [{ deviceId: 'e', lastSeenAt: t + LAST_SEEN_RESOLUTION_MS + 100 }],
    ]);
  });

  it('writes an online flag at the next flush, however recent the last write', async () => {
    const { service, writes } = presence();
    const t = 1_000_000;
    service.heardFrom(device('b'), t);
    await service.flush();
    service.heardFrom(device('b', false), t + 100);
    await service.flush();
    expect(writes).toEqual([
      [{ deviceId: 'b', lastSeenAt: t }],
      [{ deviceId: 'b', lastSeenAt: t + 100, online: true }],
    ]);
  });
});
