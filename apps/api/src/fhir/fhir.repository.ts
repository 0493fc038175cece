import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isMetricKey, METRIC_KEYS, type AlertPriority, type AlertState, type MetricKey } from '@lantern/domain';
import { OBSERVATION_KINDS, type FhirAlertSource, type ObservationKind, type ObservationSource } from '@lantern/fhir';
import { patientScopeCondition, type PatientScope } from '@lantern/storage';

/** Where a page of Observations resumes: the last group's (time, device, group) key and the sort it belongs to. */
export interface ObservationCursor {
  readonly time: number;
  readonly deviceId: string;
  /** The reading's metric, or `bp` for both blood-pressure metrics (one panel). */
  readonly group: string;
  readonly sort: 'asc' | 'desc';
}

export interface ObservationQuery {
  readonly patientId: string;
  /** The Observation kinds to return (all when the search names no code). */
  readonly kinds: readonly ObservationKind[];
  /** effectiveDateTime bounds, epoch ms: inclusive from, exclusive to. */
  readonly from?: number;
  readonly to?: number;
  readonly sort: 'asc' | 'desc';
  readonly count: number;
  readonly after?: ObservationCursor;
  /** Bulk export's `_since`: only readings stored (received) at or after this, epoch ms. */
  readonly receivedSince?: number;
  /** False skips counting (Bulk export pages through everything and needs no total). */
  readonly withTotal?: boolean;
}

export interface ObservationPage {
  readonly items: ObservationSource[];
  /** Exact; -1 when not asked for (`withTotal: false`). */
  readonly total: number;
  readonly next?: ObservationCursor;
}

const BP_METRICS: readonly MetricKey[] = ['systolic_bp', 'diastolic_bp'];
const BP_KINDS: readonly ObservationKind[] = ['blood_pressure', 'systolic_bp', 'diastolic_bp'];
/** Readings are stored with ms precision at most from 2000 on; these stand for "no bound". */
const MIN_TIME = new Date(Date.UTC(1900, 0, 1));
const MAX_TIME = new Date(Date.UTC(9999, 0, 1));

/** The group key of a reading in SQL: both blood-pressure metrics of one cuff reading form one panel. */
const GROUP_SQL = `CASE WHEN r.metric IN ('systolic_bp', 'diastolic_bp') THEN 'bp' ELSE r.metric END`;
/** The Observation kind of a group (`metrics` its metrics): a panel with both values, or a single metric. */
const KIND_SQL = `CASE WHEN grp <> 'bp' THEN grp
                       WHEN 'systolic_bp' = ANY(metrics) AND 'diastolic_bp' = ANY(metrics) THEN 'blood_pressure'
                       WHEN 'systolic_bp' = ANY(metrics) THEN 'systolic_bp' ELSE 'diastolic_bp' END`;

interface GroupRow {
  time: Date;
  device_id: string;
  grp: string;
  kind: ObservationKind;
  metrics: string[];
  vals: number[];
}

interface AlertRow {
  id: string;
  patient_id: string;
  device_id: string | null;
  rule: string;
  priority: AlertPriority;
  state: AlertState;
  message: string;
  opened_at: Date;
  resolved_at: Date | null;
}

/**
 * The FHIR server's reads that the REST repositories do not offer: patients by MRN, readings grouped
 * into Observations (a blood-pressure panel is the systolic and diastolic readings of one device at
 * one time) with keyset paging on (time, device, group) and an exact total, and alerts as Flags.
 */
@Injectable()
export class FhirRepository {
  constructor(private readonly db: DataSource) {}

  /** The id of the patient with this MRN within `scope`, if any. */
  async patientIdByMrn(scope: PatientScope, mrn: string): Promise<string | undefined> {
    const where = patientScopeCondition(scope, 'p.id', 2);
    const rows: { id: string }[] = await this.db.query(
      `SELECT p.id::text AS id FROM patients p WHERE p.mrn = $1 AND ${where.sql}`,
      [mrn, ...where.params],
    );
    return rows[0]?.id;
  }

  /**
   * One page of a patient's Observations in (time, device, group) order, and the exact total.
   *
   * Each metric's readings come from its own index range scan ((patient_id, metric, time)), at most
   * `count + 1` of them after the cursor, so a page costs the same on the first and the thousandth
   * page. That bound is exact only when no group formed from the scanned metrics is then dropped by
   * the kind filter; a search for the panel alone or a lone systolic/diastolic code can drop some,
   * so for those the blood-pressure metrics are scanned unbounded (cuff readings are a few a day).
   */
  async searchObservations(query: ObservationQuery): Promise<ObservationPage> {
    const kinds = new Set(query.kinds);
    const metrics = [...new Set([...kinds].flatMap((k) => OBSERVATION_KINDS[k].metrics))];
    if (metrics.length === 0) return { items: [], total: 0 };
    const bpPartial = BP_KINDS.some((k) => kinds.has(k)) && !BP_KINDS.every((k) => kinds.has(k));
    const from = query.from === undefined ? MIN_TIME : new Date(query.from);
    const to = query.to === undefined ? MAX_TIME : new Date(query.to);
    const desc = query.sort === 'desc';
    const after = query.after;
    const cmp = desc ? '<' : '>';
    const order = desc ? 'DESC' : 'ASC';
    const rows: GroupRow[] = await this.db.query(
      `WITH picked AS (
         SELECT l.* FROM unnest($2::text[]) AS m(metric)
         CROSS JOIN LATERAL (
           SELECT r.time, r.device_id, r.metric, r.value, ${GROUP_SQL} AS grp
             FROM readings r
            WHERE r.patient_id = $1 AND r.metric = m.metric AND r.time >= $3 AND r.time < $4
              AND ($11::timestamptz IS NULL OR r.received_at >= $11)
              AND ($5::timestamptz IS NULL OR (r.time ${cmp}= $5 AND (r.time, r.device_id, ${GROUP_SQL}) ${cmp} ($5, $6::uuid, $7::text)))
            ORDER BY r.time ${order}, r.device_id ${order}
            LIMIT CASE WHEN m.metric = ANY($8::text[]) THEN NULL ELSE $9::int END
         ) l
       ), grouped AS (
         SELECT time, device_id, grp, array_agg(metric ORDER BY metric) AS metrics, array_agg(value ORDER BY metric) AS vals
           FROM picked GROUP BY time, device_id, grp
       ), kinded AS (SELECT *, ${KIND_SQL} AS kind FROM grouped)
       SELECT time, device_id::text AS device_id, grp, kind, metrics, vals
         FROM kinded
        WHERE kind = ANY($10::text[])
        ORDER BY time ${order}, device_id ${order}, grp ${order}
        LIMIT $9`,
      [
        query.patientId,
        metrics,
        from,
        to,
        after ? new Date(after.time) : null,
        after?.deviceId ?? null,
        after?.group ?? null,
        bpPartial ? BP_METRICS : [],
        query.count + 1,
        [...kinds],
        query.receivedSince === undefined ? null : new Date(query.receivedSince),
      ],
    );
    const page = rows.slice(0, query.count);
    const last = page[page.length - 1];
    const total =
      query.withTotal === false ? -1 : await this.countObservations(query.patientId, kinds, metrics, from, to);
    return {
      items: page.map((row) => toSource(query.patientId, row)),
      total,
      ...(rows.length > query.count &&
        last && { next: { time: last.time.getTime(), deviceId: last.device_id, group: last.grp, sort: query.sort } }),
    };
  }

  /** Exact: single-metric Observations are rows; blood-pressure ones are (device, time) groups of their kind. */
  private async countObservations(
    patientId: string,
    kinds: Set<ObservationKind>,
    metrics: MetricKey[],
    from: Date,
    to: Date,
  ): Promise<number> {
    const single = metrics.filter((m) => !BP_METRICS.includes(m));
    const bpKinds = BP_KINDS.filter((k) => kinds.has(k));
    const [row] = await this.db.query<{ n: number }[]>(
      `SELECT (SELECT count(*) FROM readings r
                WHERE r.patient_id = $1 AND r.metric = ANY($2::text[]) AND r.time >= $3 AND r.time < $4)
            + (SELECT count(*) FROM (
                 SELECT 'bp' AS grp, array_agg(r.metric) AS metrics FROM readings r
                  WHERE cardinality($5::text[]) > 0 AND r.patient_id = $1 AND r.metric IN ('systolic_bp', 'diastolic_bp')
                    AND r.time >= $3 AND r.time < $4
                  GROUP BY r.time, r.device_id
               ) g WHERE ${KIND_SQL} = ANY($5::text[]))
            AS n`,
      [patientId, single, from, to, bpKinds],
    );
    return Number(row?.n ?? 0);
  }

  /** The Observation of `kind` made by `deviceId` at `time`, if it exists (a panel needs both values). */
  async findObservation(kind: ObservationKind, deviceId: string, time: number): Promise<ObservationSource | undefined> {
    const metrics = BP_KINDS.includes(kind) ? BP_METRICS : OBSERVATION_KINDS[kind].metrics;
    const rows: { patient_id: string; metric: string; value: number }[] = await this.db.query(
      // The patient leads PostgreSQL's index on readings: each patient the device has belonged to.
      `SELECT patient_id::text AS patient_id, metric, value FROM readings
        WHERE patient_id IN (SELECT patient_id FROM device_patients WHERE device_id = $1)
          AND device_id = $1 AND time = $2 AND metric = ANY($3::text[])`,
      [deviceId, new Date(time), metrics],
    );
    if (rows.length === 0) return undefined;
    const present = new Set(rows.map((r) => r.metric));
    // A lone systolic id names nothing when the cuff sent both (they form a panel), and vice versa.
    const actual: ObservationKind = BP_KINDS.includes(kind)
      ? present.size === 2
        ? 'blood_pressure'
        : present.has('systolic_bp')
          ? 'systolic_bp'
          : 'diastolic_bp'
      : kind;
    if (actual !== kind) return undefined;
    return {
      kind,
      patientId: rows[0].patient_id,
      deviceId,
      time,
      values: Object.fromEntries(rows.filter((r) => isMetricKey(r.metric)).map((r) => [r.metric, r.value])),
    };
  }

  /** A patient's alerts, newest first, optionally only active (open/acknowledged) or resolved ones, and their total. */
  async searchAlerts(
    patientId: string,
    status: 'active' | 'inactive' | undefined,
    count: number,
    offset: number,
    /** Only alerts about these metrics, or about none (a caregiver's shared signals); all when absent. */
    metrics?: readonly string[],
  ): Promise<{ items: FhirAlertSource[]; total: number }> {
    const condition = `patient_id = $1 AND ($2::text IS NULL OR (state = 'resolved') = ($2 = 'inactive'))
      AND ($3::text[] IS NULL OR metric IS NULL OR metric = ANY ($3))`;
    const params = [patientId, status ?? null, metrics === undefined ? null : [...metrics]];
    const [countRow] = await this.db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM alerts WHERE ${condition}`,
      params,
    );
    const rows: AlertRow[] = await this.db.query(
      `SELECT ${ALERT_COLUMNS} FROM alerts WHERE ${condition} ORDER BY opened_at DESC, id LIMIT $4 OFFSET $5`,
      [...params, count, offset],
    );
    return { items: rows.map(toAlertSource), total: countRow?.n ?? 0 };
  }

  /**
   * The first and last reading time of any of the patients (epoch ms), undefined when they have
   * none: per patient and metric one probe at each end of (patient_id, metric, time).
   */
  async readingTimeSpan(patientIds: readonly string[]): Promise<{ first: number; last: number } | undefined> {
    const [row] = await this.db.query<{ first: Date | null; last: Date | null }[]>(
      `SELECT min(f.time) AS first, max(l.time) AS last
         FROM unnest($1::uuid[]) AS p(id) CROSS JOIN unnest($2::text[]) AS m(metric)
         CROSS JOIN LATERAL (SELECT r.time FROM readings r WHERE r.patient_id = p.id AND r.metric = m.metric
                              ORDER BY r.time ASC LIMIT 1) f
         CROSS JOIN LATERAL (SELECT r.time FROM readings r WHERE r.patient_id = p.id AND r.metric = m.metric
                              ORDER BY r.time DESC LIMIT 1) l`,
      [patientIds, METRIC_KEYS],
    );
    return row?.first && row.last ? { first: row.first.getTime(), last: row.last.getTime() } : undefined;
  }

  /** Alerts of a patient changed at or after `since` (all without it), oldest first, one batch after `offset`. */
  async alertsForExport(
    patientId: string,
    since: number | undefined,
    limit: number,
    offset: number,
  ): Promise<FhirAlertSource[]> {
    const rows: AlertRow[] = await this.db.query(
      `SELECT ${ALERT_COLUMNS} FROM alerts
        WHERE patient_id = $1 AND ($2::timestamptz IS NULL OR updated_at >= $2)
        ORDER BY opened_at, id LIMIT $3 OFFSET $4`,
      [patientId, since === undefined ? null : new Date(since), limit, offset],
    );
    return rows.map(toAlertSource);
  }

  /** The patients of a clinician's care team (a Group for Bulk export), by id; undefined when no such clinician. */
  async careTeamPatientIds(clinicianId: string): Promise<string[] | undefined> {
    const clinician: unknown[] = await this.db.query(`SELECT 1 FROM users WHERE id = $1 AND role = 'clinician'`, [
      clinicianId,
    ]);
    if (clinician.length === 0) return undefined;
    const rows: { patient_id: string }[] = await this.db.query(
      `SELECT patient_id::text AS patient_id FROM care_team_members WHERE clinician_id = $1 ORDER BY patient_id`,
      [clinicianId],
    );
    return rows.map((r) => r.patient_id);
  }

  /** One alert, with its metric (which decides whether a caregiver may see it). */
  async findAlert(id: string): Promise<(FhirAlertSource & { readonly metric: string | null }) | undefined> {
    const rows: (AlertRow & { metric: string | null })[] = await this.db.query(
      `SELECT ${ALERT_COLUMNS}, metric FROM alerts WHERE id = $1`,
      [id],
    );
    return rows[0] && { ...toAlertSource(rows[0]), metric: rows[0].metric };
  }
}

const ALERT_COLUMNS =
  'id::text AS id, patient_id::text AS patient_id, device_id::text AS device_id, rule, priority, state, message, opened_at, resolved_at';

function toAlertSource(row: AlertRow): FhirAlertSource {
  return {
    id: row.id,
    patientId: row.patient_id,
    deviceId: row.device_id,
    rule: row.rule,
    priority: row.priority,
    state: row.state,
    message: row.message,
    openedAt: row.opened_at.getTime(),
    resolvedAt: row.resolved_at?.getTime() ?? null,
  };
}

function toSource(patientId: string, row: GroupRow): ObservationSource {
  const values: Partial<Record<MetricKey, number>> = {};
  row.metrics.forEach((metric, i) => {
    if (isMetricKey(metric)) values[metric] = row.vals[i];
  });
  return { kind: row.kind, patientId, deviceId: row.device_id, time: row.time.getTime(), values };
}
