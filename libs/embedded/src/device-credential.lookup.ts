import type pg from 'pg';

/** What the broker needs to know about a device to authenticate it. */
export interface DeviceCredential {
  readonly secretHash: string;
  readonly decommissioned: boolean;
}

/** Finds a device's stored credential by id; undefined when no such device exists. */
export interface DeviceCredentialLookup {
  find(deviceId: string): Promise<DeviceCredential | undefined>;
}

/** Looks devices up in the `devices` table through a `pg` pool (one indexed primary-key read). */
export function pgDeviceCredentialLookup(pool: pg.Pool): DeviceCredentialLookup {
  return {
    async find(deviceId) {
      const { rows } = await pool.query<{ secret_hash: string; decommissioned: boolean }>(
        'SELECT secret_hash, decommissioned_at IS NOT NULL AS decommissioned FROM devices WHERE id = $1',
        [deviceId],
      );
      const row = rows[0];
      return row && { secretHash: row.secret_hash, decommissioned: row.decommissioned };
    },
  };
}
