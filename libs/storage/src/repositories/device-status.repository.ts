import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { UUID_PATTERN, type DeviceTypeKey } from '@lantern/domain';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { boolArray, timestamptzArray, uuidArray } from './binary-arrays.js';

/** The ingest's presence write, once per batch of messages: prepared (prepared-statements.ts). */
const TOUCH_LAST_SEEN = prepared(
  'touch_last_seen',
  `UPDATE devices d
      SET last_seen_at = GREATEST(d.last_seen_at, s.seen_at),
          online = COALESCE(s.online, d.online)
     FROM unnest($1::uuid[], $2::timestamptz[], $3::boolean[]) AS s(id, seen_at, online)
    WHERE d.id = s.id`,
);

/** What the ingest needs to know about a device to accept its messages and report its status. */
export interface IngestDevice {
  readonly id: string;
  readonly patientId: string;
  readonly type: DeviceTypeKey;
  readonly decommissioned: boolean;
  readonly online: boolean;
  readonly battery?: number;
  readonly lastSeenAt?: number;
}

/** Fields of a status message to store on the device row; absent fields keep their value. */
export interface DeviceStatusUpdate {
  readonly deviceId: string;
  /** Moves last_seen_at forward; absent for a last will (the broker speaking, not the device). */
  readonly seenAt?: number;
  readonly battery?: number;
  readonly online?: boolean;
  readonly firmware?: string;
  readonly rssi?: number;
  readonly sensorExpiresAt?: string;
}

/** Last time a device was heard from, folded from many messages into one row update. */
export interface DeviceSeen {
  readonly deviceId: string;
  readonly lastSeenAt: number;
  /** Set when hearing from the device changed its online flag. */
  readonly online?: boolean;
}

interface IngestDeviceRow {
  id: string;
  patient_id: string;
  type: DeviceTypeKey;
  decommissioned: boolean;
  online: boolean;
  battery: number | null;
  last_seen_at: Date | null;
}

const INGEST_COLUMNS =
  'id::text, patient_id::text, type, decommissioned_at IS NOT NULL AS decommissioned, online, battery, last_seen_at';

/** The ingest's view of the `devices` table: lookups for admission, status and last-seen writes. */
@Injectable()
export class DeviceStatusRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every device (decommissioned ones too, so their messages are refused without a query each). */
  async loadAll(): Promise<IngestDevice[]> {
    const rows: IngestDeviceRow[] = await this.dataSource.query(`SELECT ${INGEST_COLUMNS} FROM devices`);
    return rows.map(toIngestDevice);
  }

  /**
   * Devices whose routing facts (patient, type, decommissioning, secret) changed or that were
   * provisioned at or after `since` (database clock, epoch ms), with the database's clock now.
   */
  async changedSince(since: number): Promise<{ now: number; devices: IngestDevice[] }> {
    const rows: (IngestDeviceRow & { now: Date })[] = await this.dataSource.query(
      `SELECT n.now, d.* FROM (SELECT clock_timestamp() AS now) n
         LEFT JOIN LATERAL (SELECT ${INGEST_COLUMNS} FROM devices WHERE changed_at >= $1) d ON true`,
      [new Date(since)],
    );
    return { now: rows[0].now.getTime(), devices: rows.filter((r) => r.id !== null).map(toIngestDevice) };
  }

  /** One device by id; undefined when unknown or not a UUID. */
  async findById(id: string): Promise<IngestDevice | undefined> {
    if (!UUID_PATTERN.test(id)) return undefined;
    const rows: IngestDeviceRow[] = await this.dataSource.query(`SELECT ${INGEST_COLUMNS} FROM devices WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toIngestDevice(rows[0]) : undefined;
  }

  /** Applies status messages in order, in one transaction. */
  async applyStatuses(updates: readonly DeviceStatusUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      for (const u of updates) {
        await manager.query(
          `UPDATE devices
              SET battery = COALESCE($2, battery),
                  online = COALESCE($3, online),
                  firmware = COALESCE($4, firmware),
                  rssi = COALESCE($5, rssi),
                  sensor_expires_at = COALESCE($6, sensor_expires_at),
                  last_seen_at = GREATEST(last_seen_at, $7::timestamptz)
            WHERE id = $1`,
          [
            u.deviceId,
            u.battery ?? null,
            u.online ?? null,
            u.firmware ?? null,
            u.rssi ?? null,
            u.sensorExpiresAt ?? null,
            u.seenAt === undefined ? null : new Date(u.seenAt),
          ],
        );
      }
    });
  }

  /** Moves last_seen_at forward (never back) for many devices in one statement. */
  async touchLastSeen(seen: readonly DeviceSeen[]): Promise<void> {
    if (seen.length === 0) return;
    // Binary arrays: every device comes due in the same flush, and as text 10,000 of them took the
    // ingest's event loop 14-25 ms per flush here (docs/performance.md, "The ingest's long tasks").
    await queryPrepared(this.dataSource, TOUCH_LAST_SEEN, [
      uuidArray(seen.map((s) => s.deviceId)),
      timestamptzArray(seen.map((s) => s.lastSeenAt)),
      boolArray(seen.map((s) => s.online ?? null)),
    ]);
  }
}

function toIngestDevice(r: IngestDeviceRow): IngestDevice {
  return {
    id: r.id,
    patientId: r.patient_id,
    type: r.type,
    decommissioned: r.decommissioned,
    online: r.online,
    ...(r.battery === null ? {} : { battery: r.battery }),
    ...(r.last_seen_at === null ? {} : { lastSeenAt: r.last_seen_at.getTime() }),
  };
}
