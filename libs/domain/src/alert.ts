import type { MetricKey } from './metric-catalog.js';

export const ALERT_PRIORITIES = ['high', 'medium', 'low'] as const;
export type AlertPriority = (typeof ALERT_PRIORITIES)[number];

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** Sort weight: high first. */
export const PRIORITY_RANK: Record<AlertPriority, number> = { high: 0, medium: 1, low: 2 };

/**
 * An alert as the streaming core keeps it and the `alerts` table stores it: the §3.4 resource with
 * epoch-millisecond times (libs/alerting's AlertRecord, libs/storage's StoredAlert).
 */
export interface AlertRecord {
  readonly id: string;
  readonly patientId: string;
  /** The device whose data triggered it (for device rules also part of the alert's identity). */
  readonly deviceId: string | null;
  readonly rule: string;
  readonly metric: MetricKey | null;
  readonly priority: AlertPriority;
  readonly state: AlertState;
  readonly message: string;
  /** The value that opened the alert. */
  readonly value: number | null;
  /** The worst value seen while active (lowest for below/falling rules, highest otherwise). */
  readonly peakValue: number | null;
  // Two clocks, never mixed in one field (docs/alerting.md, "Clocks"): EVENT time — the time of the
  // input, as the device stamped it (for signal loss: the sweep's wall clock, its only input) — and
  // WALL time — when Lantern or a person acted. A back-filled reading can be days older than the
  // wall clock, so the two may be compared only within one clock.
  /** EVENT time of the input that opened it. */
  readonly openedAt: number;
  /** EVENT time of the latest input that fired its rule. */
  readonly lastTriggeredAt: number;
  /** EVENT time of the input on which its condition cleared. */
  readonly clearedAt: number | null;
  /** WALL time a clinician acknowledged it. */
  readonly acknowledgedAt: number | null;
  readonly acknowledgedBy: string | null;
  readonly acknowledgeNote: string | null;
  /** WALL time it resolved: when the core saw its condition clear, or a person or the system resolved it. */
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly resolveNote: string | null;
  readonly escalationLevel: number;
  /** WALL time of its latest escalation. */
  readonly escalatedAt: number | null;
  /** WALL time the core raised it: escalation counts from here, not from a late reading's event time. */
  readonly raisedAt: number;
  // Provenance (contract §4.4, docs/alerting.md "Clocks"); null on alerts stored before they existed
  // and where there is no such input (signal loss has no triggering reading; a status has no receipt time).
  /** EVENT time of the triggering reading or status (its `ts`), as the device measured it. */
  readonly measuredAt: number | null;
  /** WALL time the ingest received the triggering reading from the broker. */
  readonly receivedAt: number | null;
  /** WALL time the core evaluated the triggering input (or ran the sweep that raised it). */
  readonly evaluatedAt: number | null;
  readonly late: boolean;
}

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
  // Provenance (contract §4.4): absent on alerts stored before issue 16 and where there is no such
  // input (signal loss has no triggering reading; a battery status has no receipt time).
  /** EVENT time: the triggering reading's `ts` (or status's time), as the device measured it. */
  measuredAt?: string;
  /** WALL time the ingest received the triggering reading from the broker. */
  receivedAt?: string;
  /** WALL time the streaming core evaluated the triggering input. */
  evaluatedAt?: string;
  /** WALL time the core raised it (escalation counts from here). */
  raisedAt?: string;
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
  // One episode, one thread (spec/alerting.md §5): `id` is the thread's; `kind`, `severity`,
  // `title`, `body` and `alertId` are its latest message's.
  /** When its latest message came (REST: always; live: on an update). `createdAt`: REST the thread's start, live the message's. */
  updatedAt?: string;
  /** REST: how many messages followed the thread's first one. */
  updates?: number;
  /** Live: this message updates the thread `id` the patient already has; replace it, do not add one. */
  update?: boolean;
  /** REST: every message of the thread, oldest first. */
  history?: { id: string; kind: NotificationKind; severity: NotificationSeverity; title: string; createdAt: string }[];
}

/** What a patient message is made of, stored or just decided (times in epoch ms). */
export interface NotificationFacts {
  readonly id: string;
  readonly patientId: string;
  readonly kind: NotificationKind;
  readonly severity: NotificationSeverity;
  readonly title: string;
  readonly body: string;
  readonly createdAt: number;
  readonly alertId: string | null;
  readonly readAt?: number | null;
  /** A thread as the patient lists it: its latest message's time, how many followed the first, all of them. */
  readonly updatedAt?: number;
  readonly updates?: number;
  readonly history?: readonly {
    id: string;
    kind: NotificationKind;
    severity: NotificationSeverity;
    title: string;
    createdAt: number;
  }[];
}

/**
 * The §2 `notification` resource of a message or of a patient thread (spec/alerting.md §5), for
 * REST and live alike. `thread`: the thread a message just stored was filed in — `id` is the
 * thread's, and a message that continues a thread says `update: true` with its time as `updatedAt`,
 * so the patient's app replaces that thread's message instead of adding one.
 */
export function toNotificationResource(n: NotificationFacts, thread: string = n.id): PatientNotificationResource {
  const createdAt = new Date(n.createdAt).toISOString();
  return {
    id: thread,
    patientId: n.patientId,
    kind: n.kind,
    severity: n.severity,
    title: n.title,
    body: n.body,
    createdAt,
    ...(n.alertId === null ? {} : { alertId: n.alertId }),
    ...(n.readAt == null ? {} : { readAt: new Date(n.readAt).toISOString() }),
    ...(n.updates === undefined || n.updatedAt === undefined || n.history === undefined
      ? {}
      : {
          updatedAt: new Date(n.updatedAt).toISOString(),
          updates: n.updates,
          history: n.history.map((m) => ({ ...m, createdAt: new Date(m.createdAt).toISOString() })),
        }),
    ...(thread === n.id ? {} : { update: true, updatedAt: createdAt }),
  };
}
