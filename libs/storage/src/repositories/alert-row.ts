import { createHash } from 'node:crypto';
import type { AlertPriority, AlertRecord, AlertState, MetricKey } from '@lantern/domain';

/*
 * How an alert is stored, for every repository that reads `alerts` (AlertRepository,
 * AlertTransitionRepository, EscalationRepository, AlertDeliveryRepository): the row as the driver
 * returns it, the column list that reads it, its mapping to the domain record, and the id given to
 * an alert or notification from its cause.
 */

// Any fixed UUID works; it only has to stay the same, or the ids of causes already stored change.
const CAUSE_NAMESPACE = Buffer.from('5f0c6a2e8d3b4b7a9e1f2c3d4e5f6a7b', 'hex');

/**
 * The id of an alert or notification from its cause (AlertEngineOptions.newId): a name-based UUID
 * (RFC 9562 version 5, SHA-1), so the same cause always gets the same id and storage takes it once.
 */
export function idFromCause(cause: string): string {
  const hash = createHash('sha1').update(CAUSE_NAMESPACE).update(cause, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One row of `alerts`: the alert record of libs/domain, as the streaming core keeps it. */
export type StoredAlert = AlertRecord;

export interface AlertRow {
  id: string;
  patient_id: string;
  device_id: string | null;
  rule: string;
  metric: string | null;
  priority: AlertPriority;
  state: AlertState;
  message: string;
  value: number | null;
  peak_value: number | null;
  opened_at: Date;
  last_triggered_at: Date;
  cleared_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  acknowledge_note: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolve_note: string | null;
  escalation_level: number;
  escalated_at: Date | null;
  raised_at: Date;
  measured_at: Date | null;
  received_at: Date | null;
  evaluated_at: Date | null;
  late: boolean;
}

const COLUMN_LIST = [
  'id::text',
  'patient_id::text',
  'device_id::text',
  'rule',
  'metric',
  'priority',
  'state',
  'message',
  'value',
  'peak_value',
  'opened_at',
  'last_triggered_at',
  'cleared_at',
  'acknowledged_at',
  'acknowledged_by::text',
  'acknowledge_note',
  'resolved_at',
  'resolved_by::text',
  'resolve_note',
  'escalation_level',
  'escalated_at',
  'raised_at',
  'measured_at',
  'received_at',
  'evaluated_at',
  'late',
];
/** The columns of `alerts` as {@link toStoredAlert} reads them. */
export const ALERT_COLUMNS = COLUMN_LIST.join(', ');
/** The same columns of the table aliased `alias`. */
export const alertColumnsOf = (alias: string): string => COLUMN_LIST.map((c) => `${alias}.${c}`).join(', ');

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

/** The domain record of one `alerts` row read with {@link ALERT_COLUMNS}. */
export function toStoredAlert(row: AlertRow): StoredAlert {
  return {
    id: row.id,
    patientId: row.patient_id,
    deviceId: row.device_id,
    rule: row.rule,
    metric: row.metric as MetricKey | null,
    priority: row.priority,
    state: row.state,
    message: row.message,
    value: row.value,
    peakValue: row.peak_value,
    openedAt: row.opened_at.getTime(),
    lastTriggeredAt: row.last_triggered_at.getTime(),
    clearedAt: ms(row.cleared_at),
    acknowledgedAt: ms(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    acknowledgeNote: row.acknowledge_note,
    resolvedAt: ms(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolveNote: row.resolve_note,
    escalationLevel: row.escalation_level,
    escalatedAt: ms(row.escalated_at),
    raisedAt: row.raised_at.getTime(),
    measuredAt: ms(row.measured_at),
    receivedAt: ms(row.received_at),
    evaluatedAt: ms(row.evaluated_at),
    late: row.late,
  };
}
