import type { MetricKey } from './metric-catalog.js';

export const ALERT_PRIORITIES = ['high', 'medium', 'low'] as const;
export type AlertPriority = (typeof ALERT_PRIORITIES)[number];

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** Sort weight: high first. */
export const PRIORITY_RANK: Record<AlertPriority, number> = { high: 0, medium: 1, low: 2 };

/** The alert resource of contract §3.4 (times as ISO-8601 strings). */
export interface AlertResource {
  id: string;
  patientId: string;
  deviceId?: string;
  rule: string;
  metric?: MetricKey;
  priority: AlertPriority;
  state: AlertState;
  message: string;
  value?: number;
  peakValue?: number;
  // Clocks (docs/alerting.md, "Clocks"): openedAt, lastTriggeredAt, clearedAt are EVENT time (the
  // readings'); acknowledgedAt and resolvedAt are WALL time (Lantern's and people's).
  /** Event time of the input that opened it. */
  openedAt: string;
  /** Event time of the latest input that fired its rule. */
  lastTriggeredAt: string;
  /** Event time of the input on which its condition cleared. */
  clearedAt?: string;
  /** Wall time a clinician acknowledged it. */
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  /** Wall time it resolved. */
  resolvedAt?: string;
  resolvedBy?: string;
  escalationLevel: number;
  late: boolean;
}

export const NOTIFICATION_KINDS = [
  'alert_opened',
  'alert_acknowledged',
  'signal_lost',
  'signal_restored',
  'battery_low',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export type NotificationSeverity = 'info' | 'warning' | 'urgent';

/** A plain-language message for the patient (contract §2 `notification`). */
export interface PatientNotificationResource {
  id: string;
  patientId: string;
  kind: NotificationKind;
  severity: NotificationSeverity;
  title: string;
  body: string;
  createdAt: string;
  alertId?: string;
  readAt?: string;
}
