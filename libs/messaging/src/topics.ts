/**
 * Every broker topic Lantern uses, built from the configured root: the devices' and patients' topics
 * of contract §1 and the internal topics between the roles (DESIGN.md). One place for all of them;
 * the payload of each is typed next to its decoder (`broker-events.ts`, `internal-events.ts`).
 */
export interface Topics {
  readonly root: string;
  telemetry(deviceId: string): string;
  status(deviceId: string): string;
  errors(deviceId: string): string;
  /** Any level under a device, `{root}/devices/{id}/{level}`: what a misbehaving device (or a test of one) may publish to. */
  deviceLevel(deviceId: string, level: string): string;
  patientAlerts(patientId: string): string;
  patientDevices(patientId: string): string;
  patientNotifications(patientId: string): string;
  /** Filter of every event topic of one patient (what a live watcher subscribes to). */
  patientEvents(patientId: string): string;
  /** Internal: the api announces a patient's changed rule overrides (payload `RulesChangedEvent`). */
  readonly rulesChanged: string;
  /** Internal: the api announces a clinician's acknowledgement or resolution (payload `AlertChangedEvent`). */
  readonly alertChanged: string;
  /** Internal: the api announces rotated or decommissioned device credentials (payload `DeviceRevokedEvent`). */
  readonly deviceRevoked: string;
  /** Subscription filters of the ingest role. */
  readonly allTelemetry: string;
  readonly allStatus: string;
  /** Every patient's alert events: the api's escalation chain starts a new alert's first tier at once. */
  readonly allPatientAlerts: string;
  /**
   * The canary an ingest instance publishes to itself, proving its subscription delivers. One topic
   * per client id (levels-safe), so each instance hears its own even when subscriptions are shared.
   */
  ingestCanary(clientId: string): string;
}

export type DeviceTopicKind = 'telemetry' | 'status' | 'errors';
export type PatientEventKind = 'alerts' | 'devices' | 'notifications';

export function topicsFor(root: string): Topics {
  return {
    root,
    telemetry: (id) => `${root}/devices/${id}/telemetry`,
    status: (id) => `${root}/devices/${id}/status`,
    errors: (id) => `${root}/devices/${id}/errors`,
    deviceLevel: (id, level) => `${root}/devices/${id}/${level}`,
    patientAlerts: (id) => `${root}/events/patients/${id}/alerts`,
    patientDevices: (id) => `${root}/events/patients/${id}/devices`,
    patientNotifications: (id) => `${root}/events/patients/${id}/notifications`,
    patientEvents: (id) => `${root}/events/patients/${id}/+`,
    rulesChanged: `${root}/internal/rules-changed`,
    alertChanged: `${root}/internal/alert-changed`,
    deviceRevoked: `${root}/internal/device-revoked`,
    allTelemetry: `${root}/devices/+/telemetry`,
    allStatus: `${root}/devices/+/status`,
    allPatientAlerts: `${root}/events/patients/+/alerts`,
    ingestCanary: (clientId) => `${root}/internal/ingest-canary/${clientId.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
  };
}

/** Splits `{root}/devices/{id}/{kind}`; undefined for any other topic. */
export function parseDeviceTopic(root: string, topic: string): { deviceId: string; kind: DeviceTopicKind } | undefined {
  const prefix = `${root}/devices/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2 || rest[0] === '') return undefined;
  const kind = rest[1];
  if (kind !== 'telemetry' && kind !== 'status' && kind !== 'errors') return undefined;
  return { deviceId: rest[0], kind };
}

/** Splits `{root}/events/patients/{id}/{kind}`; undefined for any other topic. */
export function parsePatientEventTopic(
  root: string,
  topic: string,
): { patientId: string; kind: PatientEventKind } | undefined {
  const prefix = `${root}/events/patients/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2 || rest[0] === '') return undefined;
  const kind = rest[1];
  if (kind !== 'alerts' && kind !== 'devices' && kind !== 'notifications') return undefined;
  return { patientId: rest[0], kind };
}

/** A shared-subscription filter (`$share/{group}/{filter}`, MQTT 5; also honoured by Mosquitto and EMQX for 3.1.1). */
export function sharedFilter(group: string, filter: string): string {
  return `$share/${group}/${filter}`;
}
