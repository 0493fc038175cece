import type { DeviceTypeKey } from './device-type-catalog.js';
import type { MetricKey } from './metric-catalog.js';
import type { Role } from './people.js';
import type { SharingScope } from './care-circle.js';

// The REST API's resources (contract §3, §4), times as ISO-8601 strings. The API's DTO classes
// implement these and the dashboard reads them, so that a field changed on one side fails the build
// of the other. An optional field is absent from the JSON, never null, unless it says `| null`.

/** A page of a list that counts its items (`GET /alerts`, `GET /me/notifications`). */
export interface PageResource<T> {
  items: T[];
  total: number;
}

/** A page read by offset (`limit`/`offset` echo the query as applied). */
export interface OffsetPageResource<T> extends PageResource<T> {
  limit: number;
  offset: number;
}

/** A login (`GET /users`, the `user` of a sign-in). */
export interface UserResource {
  id: string;
  email: string;
  role: Role;
  displayName: string;
  /** Role patient only: the one patient record this login is. */
  patientId?: string;
  createdAt: string;
  /** Set while the account is disabled. */
  disabledAt?: string;
}

/** `POST /auth/login`. */
export interface LoginRequest {
  email: string;
  password: string;
}

/** The answer of a login, an accepted invitation and `POST /auth/refresh` (contract §4.1). */
export interface SignInResource {
  accessToken: string;
  /** Also set as the httpOnly `lantern_refresh` cookie, which is what browsers use. */
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  user: UserResource;
}

/** A patient record (`GET /patients`). */
export interface PatientResource {
  id: string;
  displayName: string;
  /** YYYY-MM-DD. */
  dateOfBirth?: string;
  /** Medical record number. */
  mrn?: string;
  createdAt: string;
}

/** A clinician on a patient's care team. */
export interface CareTeamMemberResource {
  clinicianId: string;
  email: string;
  displayName: string;
  addedAt: string;
}

/** One patient with the care team (`GET /patients/:id`). */
export interface PatientDetailResource extends PatientResource {
  careTeam: CareTeamMemberResource[];
}

/** A device (`GET /devices`); its status fields are absent until it has reported them. */
export interface DeviceResource {
  /** Also the MQTT username. */
  id: string;
  patientId: string;
  type: DeviceTypeKey;
  serial?: string;
  model?: string;
  status: 'active' | 'decommissioned';
  createdAt: string;
  /** When the current secret was issued. */
  secretRotatedAt: string;
  decommissionedAt?: string;
  /** Last message from the device. */
  lastSeenAt?: string;
  /** Last reported connection state (false once decommissioned). */
  online: boolean;
  /** Percent. */
  battery?: number;
  firmware?: string;
  /** Signal strength, dBm. */
  rssi?: number;
  sensorExpiresAt?: string;
}

/** `POST /devices`. */
export interface ProvisionDeviceRequest {
  patientId: string;
  type: DeviceTypeKey;
  serial?: string;
  model?: string;
}

/** What a device needs to connect: answered once, the password is never shown again. */
export interface DeviceCredentialsResource {
  username: string;
  password: string;
  telemetryTopic: string;
  statusTopic: string;
  errorsTopic: string;
}

/** The answer of `POST /devices` and `POST /devices/:id/rotate-secret`. */
export interface ProvisionedDeviceResource extends DeviceResource {
  credentials: DeviceCredentialsResource;
}

/** A raw reading in its metric's canonical unit (`GET /patients/:id/readings`). */
export interface ReadingResource {
  /** Event time: when the device measured it. */
  ts: string;
  metric: MetricKey;
  value: number;
  unit: string;
  deviceId: string;
  /** Wall clock: when the ingest received it from the broker. */
  receivedAt?: string;
}

/** A metric's latest reading with its device's state (`GET /patients/:id/latest`, contract §4.4). */
export interface LatestReadingResource extends ReadingResource {
  /** Seconds since `ts`, on the server's clock. */
  ageSec: number;
  monitoring: 'ok' | 'lost';
  /** When `lost`: the measured time of the device's newest reading. */
  since?: string;
  /** True when `lost`: the value is the last known one. */
  stale: boolean;
}

/** One rollup bucket (`GET /patients/:id/readings?bucket=…`); `ts` is its start. */
export interface ReadingBucketResource {
  ts: string;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/** The standard CGM figures of a summary, in percent of readings except the mean (mg/dL). */
export interface GlucoseFiguresResource {
  timeInRange: number;
  timeBelow70: number;
  timeBelow54: number;
  timeAbove180: number;
  timeAbove250: number;
  meanGlucose: number;
  gmi: number;
  cv: number | null;
}

/** One metric of a summary. */
export interface MetricSummaryResource {
  metric: MetricKey;
  unit: string;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  expectedCount: number | null;
  /** Share of expected readings received, 0–1. */
  coverage: number | null;
  glucose?: GlucoseFiguresResource;
}

/** `GET /patients/:id/summary`. */
export interface ReadingSummaryResource {
  patientId: string;
  from: string;
  to: string;
  metrics: MetricSummaryResource[];
}

/**
 * A patient's effective alert rule: the catalog default merged with the patient's override
 * (`GET /patients/:id/alert-rules`). `kind` is one of libs/alerting's rule kinds; `params` holds
 * that kind's parameters, `priority` among them.
 */
export interface AlertRuleResource {
  key: string;
  kind: string;
  /** Metric rules only. */
  metric?: MetricKey;
  scope: 'metric' | 'device';
  label: string;
  enabled: boolean;
  source: 'default' | 'patient';
  params: Record<string, unknown>;
}

/** A person a patient shares with (`GET /me/caregivers`). */
export interface CaregiverResource {
  id: string;
  email: string;
  name?: string;
  scopes: SharingScope[];
  status: 'invited' | 'active';
  invitedAt: string;
  acceptedAt?: string;
  /** While invited. */
  invitationExpiresAt?: string;
}

/** An invitation's token, for the patient to pass on: single use. */
export interface CaregiverInvitationResource {
  token: string;
  expiresAt: string;
}

/** An invitation as `POST /me/caregivers` answers it, once: the token is never shown again. */
export interface InvitedCaregiverResource extends CaregiverResource {
  invitation: CaregiverInvitationResource;
}

/** `POST /me/caregivers`. */
export interface InviteCaregiverRequest {
  email: string;
  name?: string;
  scopes: SharingScope[];
}

/** `PATCH /me/caregivers/:id`. */
export interface ChangeScopesRequest {
  scopes: SharingScope[];
}

/** `POST /auth/accept-invitation`. */
export interface AcceptInvitationRequest {
  token: string;
  password: string;
  name?: string;
}

/** Who did it, as the access log names them. */
export interface AccessLogActorResource {
  id: string;
  name: string;
  role: Role;
}

/** One line of `GET /me/access-log`: who did what with the patient's data, in plain words. */
export interface AccessLogEntryResource {
  /** Opaque and increasing: the `before` of the next page. */
  id: string;
  at: string;
  actor: AccessLogActorResource;
  action: string;
  detail: string;
}

/** `GET /push/public-key`: the browser's `applicationServerKey`. */
export interface PushPublicKeyResource {
  publicKey: string;
}

/** The ingest's part of the health answer, problems in plain words (the API also lists its instances). */
export interface IngestHealthResource {
  status: 'up' | 'stalled' | 'down' | 'unknown';
  problems: string[];
}

/** Whether people are told about alerts: `down` when the escalation chain has stopped. */
export interface DeliveriesHealthResource {
  status: 'up' | 'degraded' | 'down';
  problems: string[];
}

/** `GET /health` and `GET /monitoring` (contract §3.6). */
export interface HealthResource {
  status: 'ok' | 'unavailable';
  database: 'up' | 'down';
  broker: 'up' | 'down';
  /** Absent when HEALTH_REQUIRE_INGEST=false. */
  ingest?: IngestHealthResource;
  deliveries: DeliveriesHealthResource;
}
