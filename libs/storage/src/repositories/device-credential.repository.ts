import type pg from 'pg';

/** A device's stored credential, as the broker's login decision needs it (`DeviceCredential` of libs/auth). */
export interface StoredDeviceCredential {
  readonly secretHash: string;
  readonly decommissioned: boolean;
}

/**
 * The embedded broker's read of the devices table, on a `pg` pool (the broker runs in the supervisor,
 * beside no TypeORM): one indexed primary-key read per login.
 */
export class DeviceCredentialRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The device's credential; undefined when no such device exists. */
  async find(deviceId: string): Promise<StoredDeviceCredential | undefined> {
    const { rows } = await this.pool.query<{ secret_hash: string; decommissioned: boolean }>(
      'SELECT secret_hash, decommissioned_at IS NOT NULL AS decommissioned FROM devices WHERE id = $1',
      [deviceId],
    );
    const row = rows[0];
    return row && { secretHash: row.secret_hash, decommissioned: row.decommissioned };
  }
}
