import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { distinctUuids, UUID_PATTERN, type DeviceTypeKey } from '@lantern/domain';
import { managerOf } from '../transactions.js';
import { patientScopeCondition, type PatientScope } from './patient.repository.js';
import { returnedRows } from './sql-helpers.js';

export interface DeviceRecord {
  readonly id: string;
  readonly patientId: string;
  readonly type: DeviceTypeKey;
  readonly serial?: string;
  readonly model?: string;
  readonly createdAt: Date;
  readonly secretRotatedAt: Date;
  readonly decommissionedAt?: Date;
  readonly lastSeenAt?: Date;
  readonly online: boolean;
  readonly battery?: number;
  readonly firmware?: string;
  readonly rssi?: number;
  readonly sensorExpiresAt?: Date;
}

/** What broker authentication needs to know about a device id. */
export interface DeviceCredentials {
  readonly id: string;
  readonly patientId: string;
  readonly secretHash: string;
  readonly decommissioned: boolean;
}

export interface NewDevice {
  readonly patientId: string;
  readonly type: DeviceTypeKey;
  readonly serial?: string;
  readonly model?: string;
  readonly secretHash: string;
}

interface DeviceRow {
  id: string;
  patient_id: string;
  type: DeviceTypeKey;
  serial: string | null;
  model: string | null;
  created_at: Date;
  secret_rotated_at: Date;
  decommissioned_at: Date | null;
  last_seen_at: Date | null;
  online: boolean;
  battery: number | null;
  firmware: string | null;
  rssi: number | null;
  sensor_expires_at: Date | null;
}

const COLUMNS =
  'id, patient_id, type, serial, model, created_at, secret_rotated_at, decommissioned_at, last_seen_at, online, battery, firmware, rssi, sensor_expires_at';

function toRecord(row: DeviceRow): DeviceRecord {
  const optional = <K extends string, V>(key: K, value: V | null) =>
    value === null ? {} : ({ [key]: value } as Record<K, V>);
  return {
    id: row.id,
    patientId: row.patient_id,
    type: row.type,
    ...optional('serial', row.serial),
    ...optional('model', row.model),
    createdAt: row.created_at,
    secretRotatedAt: row.secret_rotated_at,
    ...optional('decommissionedAt', row.decommissioned_at),
    ...optional('lastSeenAt', row.last_seen_at),
    // A decommissioned device is never online, whatever its last status said.
    online: row.online && row.decommissioned_at === null,
    ...optional('battery', row.battery),
    ...optional('firmware', row.firmware),
    ...optional('rssi', row.rssi),
    ...optional('sensorExpiresAt', row.sensor_expires_at),
  };
}

/** The device registry: identity, hashed secret, lifecycle and last known status. */
@Injectable()
export class DeviceRepository {
  constructor(private readonly db: DataSource) {}

  async create(device: NewDevice): Promise<DeviceRecord> {
    const rows: DeviceRow[] = await managerOf(this.db).query(
      `INSERT INTO devices (patient_id, type, serial, model, secret_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [device.patientId, device.type, device.serial ?? null, device.model ?? null, device.secretHash],
    );
    return toRecord(rows[0]);
  }

  async findById(id: string): Promise<DeviceRecord | undefined> {
    if (!UUID_PATTERN.test(id)) return undefined;
    const rows: DeviceRow[] = await managerOf(this.db).query(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  /** The patients of these device ids (decommissioned devices included); ids that are not devices are skipped. */
  async patientIdsOf(deviceIds: readonly string[]): Promise<string[]> {
    const ids = distinctUuids(deviceIds);
    if (ids.length === 0) return [];
    const rows: { patient_id: string }[] = await managerOf(this.db).query(
      `SELECT DISTINCT patient_id::text AS patient_id FROM devices WHERE id = ANY($1::uuid[]) ORDER BY 1`,
      [ids],
    );
    return rows.map((r) => r.patient_id);
  }

  /** The ids of these patients' devices that are not decommissioned, by patient (lower-case ids); one query. */
  async activeIdsByPatient(patientIds: readonly string[]): Promise<Map<string, string[]>> {
    const ids = distinctUuids(patientIds);
    const byPatient = new Map<string, string[]>();
    if (ids.length === 0) return byPatient;
    const rows: { id: string; patient_id: string }[] = await managerOf(this.db).query(
      `SELECT id::text, patient_id::text FROM devices
        WHERE patient_id = ANY($1::uuid[]) AND decommissioned_at IS NULL ORDER BY created_at DESC, id`,
      [ids],
    );
    for (const row of rows) {
      const devices = byPatient.get(row.patient_id);
      if (devices) devices.push(row.id);
      else byPatient.set(row.patient_id, [row.id]);
    }
    return byPatient;
  }

  /** Devices of the patients within `scope` (optionally one patient), decommissioned ones included, newest first. */
  async list(scope: PatientScope, patientId?: string): Promise<DeviceRecord[]> {
    const where = patientScopeCondition(scope, 'patient_id', 2);
    const rows: DeviceRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM devices WHERE ($1::uuid IS NULL OR patient_id = $1) AND ${where.sql} ORDER BY created_at DESC, id`,
      [patientId ?? null, ...where.params],
    );
    return rows.map(toRecord);
  }

  /** Credentials of a device id as presented by an MQTT client; undefined for an unknown or malformed id. */
  async findCredentials(id: string): Promise<DeviceCredentials | undefined> {
    if (!UUID_PATTERN.test(id)) return undefined;
    const rows: { id: string; patient_id: string; secret_hash: string; decommissioned: boolean }[] = await managerOf(
      this.db,
    ).query(
      `SELECT id, patient_id, secret_hash, decommissioned_at IS NOT NULL AS decommissioned FROM devices WHERE id = $1`,
      [id],
    );
    const row = rows[0];
    return (
      row && { id: row.id, patientId: row.patient_id, secretHash: row.secret_hash, decommissioned: row.decommissioned }
    );
  }

  /** Replaces the secret hash of an active device; undefined when unknown or decommissioned. */
  async rotateSecret(id: string, secretHash: string): Promise<DeviceRecord | undefined> {
    const result: unknown = await managerOf(this.db).query(
      `UPDATE devices SET secret_hash = $2, secret_rotated_at = now() WHERE id = $1 AND decommissioned_at IS NULL RETURNING ${COLUMNS}`,
      [id, secretHash],
    );
    const row = returnedRows<DeviceRow>(result)[0];
    return row && toRecord(row);
  }

  /**
   * Decommissions a device: credentials revoked (the secret hash is replaced by a value no secret
   * hashes to), readings and alerts kept. Idempotent; undefined only when the id is unknown.
   */
  async decommission(id: string): Promise<DeviceRecord | undefined> {
    const result: unknown = await managerOf(this.db).query(
      `UPDATE devices
          SET decommissioned_at = coalesce(decommissioned_at, now()), secret_hash = 'revoked', online = false
        WHERE id = $1
        RETURNING ${COLUMNS}`,
      [id],
    );
    const row = returnedRows<DeviceRow>(result)[0];
    return row && toRecord(row);
  }
}
