/** Topic names of contract §1 and DESIGN.md, built from the configured root. One place for all of them. */
export interface Topics {
  readonly root: string;
  telemetry(deviceId: string): string;
  status(deviceId: string): string;
  errors(deviceId: string): string;
  patientAlerts(patientId: string): string;
  patientDevices(patientId: string): string;
  patientNotifications(patientId: string): string;
  /** Subscription filters of the ingest role. */
  readonly allTelemetry: string;
  readonly allStatus: string;
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
    patientAlerts: (id) => `${root}/events/patients/${id}/alerts`,
    patientDevices: (id) => `${root}/events/patients/${id}/devices`,
    patientNotifications: (id) => `${root}/events/patients/${id}/notifications`,
    allTelemetry: `${root}/devices/+/telemetry`,
    allStatus: `${root}/devices/+/status`,
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
