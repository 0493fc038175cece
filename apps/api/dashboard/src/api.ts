import type { AlertResource, DeviceTypeKey, MetricKey, PatientNotificationResource, Role } from '@lantern/domain';

/**
 * The REST calls the dashboard makes (contract §3), with the shapes it relies on. Where the
 * contract leaves a response shape open (lists with or without a page envelope, `latest` as list
 * or map), the readers below accept both, so the client depends on the contract only.
 */

export interface User {
  id: string;
  email: string;
  role: Role;
  displayName?: string;
  patientId?: string | null;
}

export interface Session {
  token: string;
  user: User;
}

export interface Patient {
  id: string;
  displayName?: string;
  name?: string;
  mrn?: string | null;
  dateOfBirth?: string | null;
}

export interface LatestReading {
  metric: MetricKey;
  value: number;
  ts: string;
  deviceId?: string;
  unit?: string;
}

export interface Device {
  id: string;
  patientId: string;
  type: DeviceTypeKey;
  serial?: string | null;
  model?: string | null;
  online: boolean;
  battery: number | null;
  lastSeenAt: string | null;
  sensorExpiresAt?: string | null;
  decommissionedAt?: string | null;
  firmware?: string | null;
}

export interface DeviceCredentials {
  username: string;
  password: string;
  telemetryTopic: string;
  statusTopic: string;
  errorsTopic: string;
}

export interface AlertRule {
  key: string;
  kind: string;
  metric?: MetricKey | null;
  enabled: boolean;
  source: 'default' | 'patient';
  priority?: string;
  params?: Record<string, unknown>;
  [param: string]: unknown;
}

export interface Bucket {
  ts: string;
  min: number;
  max: number;
  avg: number;
  count: number;
}

export type { AlertResource, PatientNotificationResource };

const SESSION_KEY = 'lantern.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the token is refused, so the app can return to the login page. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** One JSON request to `/api/v1`; errors become ApiError with the server's message. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const session = loadSession();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session) headers.authorization = `Bearer ${session.token}`;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401 && session) onUnauthorized();
    const message = (json as { message?: string | string[] } | undefined)?.message;
    throw new ApiError(res.status, Array.isArray(message) ? message.join('; ') : (message ?? res.statusText));
  }
  return json as T;
}

/** A list response, bare or in a page envelope (`items` / `data`). */
export function listOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const envelope = body as { items?: T[]; data?: T[]; results?: T[] } | undefined;
  return envelope?.items ?? envelope?.data ?? envelope?.results ?? [];
}

/** Where the next page starts: a `nextCursor`, or an offset when the envelope counts a `total`. */
function nextPageOf(body: unknown, received: number, offset: number): { cursor: string } | { offset: number } | null {
  if (Array.isArray(body) || !body) return null;
  const envelope = body as { nextCursor?: string | null; total?: number; offset?: number };
  if (envelope.nextCursor) return { cursor: envelope.nextCursor };
  if (typeof envelope.total === 'number' && received > 0) {
    const next = (envelope.offset ?? offset) + received;
    return next < envelope.total ? { offset: next } : null;
  }
  return null;
}

/** Follows pages (cursor or offset) up to `maxPages`. */
async function allPages<T>(path: string, maxPages = 10): Promise<T[]> {
  const out: T[] = [];
  let query = '';
  let offset = 0;
  for (let page = 0; page < maxPages; page++) {
    const body = await request<unknown>('GET', path + query);
    const items = listOf<T>(body);
    out.push(...items);
    const next = nextPageOf(body, items.length, offset);
    if (!next) break;
    const sep = path.includes('?') ? '&' : '?';
    if ('cursor' in next) query = `${sep}cursor=${encodeURIComponent(next.cursor)}`;
    else {
      offset = next.offset;
      query = `${sep}offset=${offset}`;
    }
  }
  return out;
}

export async function login(email: string, password: string): Promise<Session> {
  const body = await request<{ accessToken: string; user: User }>('POST', '/auth/login', { email, password });
  return { token: body.accessToken, user: body.user };
}

export const getPatients = (): Promise<Patient[]> => allPages<Patient>('/patients');
export const getPatient = (id: string): Promise<Patient> => request('GET', `/patients/${id}`);

/** Latest value of every metric, whether the server answers with a list or a map keyed by metric. */
export async function getLatest(patientId: string): Promise<LatestReading[]> {
  const body = await request<unknown>('GET', `/patients/${patientId}/latest`);
  const list = listOf<LatestReading>(body);
  if (list.length || Array.isArray(body)) return list;
  const map = ((body as { metrics?: unknown; readings?: unknown })?.metrics ??
    (body as { readings?: unknown })?.readings ??
    body) as Record<string, Omit<LatestReading, 'metric'> & { metric?: MetricKey }> | undefined;
  if (Array.isArray(map)) return map as LatestReading[];
  return Object.entries(map ?? {})
    .filter(([, v]) => v && typeof v === 'object' && typeof v.value === 'number')
    .map(([metric, v]) => ({ ...v, metric: (v.metric ?? metric) as MetricKey }));
}

export async function getDevices(patientId: string): Promise<Device[]> {
  const devices = await allPages<Device & { status?: string }>(`/devices?patientId=${patientId}`);
  return devices.filter((d) => !d.decommissionedAt && d.status !== 'decommissioned').map(normalizeDevice);
}

/** Optional fields may be absent in JSON; the views treat "unknown" as null. */
export function normalizeDevice<T extends Device>(d: T): T {
  return { ...d, online: d.online ?? false, battery: d.battery ?? null, lastSeenAt: d.lastSeenAt ?? null };
}

export const provisionDevice = (input: {
  patientId: string;
  type: DeviceTypeKey;
  serial?: string;
  model?: string;
}): Promise<Device & { credentials: DeviceCredentials }> => request('POST', '/devices', input);

export function getAlerts(query: Record<string, string>, maxPages = 5): Promise<AlertResource[]> {
  return allPages<AlertResource>(`/alerts?${new URLSearchParams(query).toString()}`, maxPages);
}

export const acknowledgeAlert = (id: string): Promise<AlertResource> =>
  request('POST', `/alerts/${id}/acknowledge`, {});
export const resolveAlert = (id: string): Promise<AlertResource> => request('POST', `/alerts/${id}/resolve`, {});

export async function getAlertRules(patientId: string): Promise<AlertRule[]> {
  return listOf<AlertRule>(await request<unknown>('GET', `/patients/${patientId}/alert-rules`));
}
export const putAlertRule = (patientId: string, key: string, body: Record<string, unknown>): Promise<AlertRule> =>
  request('PUT', `/patients/${patientId}/alert-rules/${encodeURIComponent(key)}`, body);
export const deleteAlertRule = (patientId: string, key: string): Promise<unknown> =>
  request('DELETE', `/patients/${patientId}/alert-rules/${encodeURIComponent(key)}`);

export async function getBuckets(
  patientId: string,
  metric: MetricKey,
  from: Date,
  to: Date,
  bucket: string,
): Promise<Bucket[]> {
  const q = new URLSearchParams({ metric, from: from.toISOString(), to: to.toISOString(), bucket });
  return listOf<Bucket>(await request<unknown>('GET', `/patients/${patientId}/readings?${q.toString()}`));
}

export const getSummary = (patientId: string, from: Date, to: Date): Promise<unknown> =>
  request('GET', `/patients/${patientId}/summary?from=${from.toISOString()}&to=${to.toISOString()}`);

export async function getNotifications(): Promise<PatientNotificationResource[]> {
  return allPages<PatientNotificationResource>('/me/notifications?limit=100', 1);
}
export const markNotificationRead = (id: string): Promise<unknown> =>
  request('POST', `/me/notifications/${id}/read`, {});

export function patientName(p: Patient | undefined): string {
  return p?.displayName ?? p?.name ?? 'Unknown patient';
}
