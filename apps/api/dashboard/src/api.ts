import type {
  AlertConfirmed,
  AlertResource,
  AlertTimeline,
  DeviceTypeKey,
  EscalationPolicy,
  MetricKey,
  PatientNotificationResource,
  Role,
  SharingScope,
} from '@lantern/domain';

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

/**
 * What a signed-in tab keeps (sessionStorage, per tab): the short-lived access token and when it
 * expires. The refresh token is not here: it lives in the httpOnly `lantern_refresh` cookie the
 * server sets, out of reach of any script (docs/dashboard.md "Staying signed in").
 */
export interface Session {
  token: string;
  /** When the access token expires, epoch ms on this browser's clock. */
  expiresAt: number;
  /** Its whole lifetime in ms (ACCESS_TOKEN_TTL): how early to renew it. */
  ttlMs: number;
  user: User;
}

/** The answer of POST /auth/login and /auth/refresh (contract §4.1); `refreshToken` is ignored here. */
interface TokenAnswer {
  accessToken: string;
  expiresIn: number;
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
  /** From `GET /patients/:id/latest` only (contract §4.4); live readings carry none of these. */
  receivedAt?: string;
  ageSec?: number;
  monitoring?: 'ok' | 'lost';
  since?: string;
  stale?: boolean;
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

export type { AlertResource, PatientNotificationResource, SharingScope };

const SESSION_KEY = 'lantern.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const session = raw ? (JSON.parse(raw) as Partial<Session>) : null;
    // A session saved by an older dashboard has no expiry: treat it as absent (the cookie may sign in again).
    return session && typeof session.token === 'string' && typeof session.expiresAt === 'number'
      ? (session as Session)
      : null;
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
    /** Each problem with the input, when the server listed them (a 400's `details`, or its `message` list). */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/** Called when the login is over (revoked, expired, refused), so the app can return to the login page. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** Marks the cookie-borne calls (refresh, logout) as the dashboard's own: the server's CSRF check. */
const CSRF_HEADER = { 'x-requested-with': 'lantern-dashboard' };

/** An access token this close to expiry is renewed before a request rather than sent to be refused. */
const RENEW_BEFORE_REQUEST_MS = 5_000;

function sessionFrom(body: TokenAnswer): Session {
  return {
    token: body.accessToken,
    expiresAt: Date.now() + body.expiresIn * 1000,
    ttlMs: body.expiresIn * 1000,
    user: body.user,
  };
}

const renewedListeners = new Set<(session: Session) => void>();

/** Called with every renewed session (the live socket takes the new token); returns the unsubscribe. */
export function onSessionRenewed(listener: (session: Session) => void): () => void {
  renewedListeners.add(listener);
  return () => renewedListeners.delete(listener);
}

let renewing: Promise<Session | null> | null = null;

/**
 * Exchanges the refresh cookie for a new access token: the new session, or null when the login is
 * over (revoked, expired, or the cookie now belongs to another user who signed in on this browser).
 * Throws when the server cannot be reached (try again later). One at a time per tab, and across
 * tabs through a Web Lock: the cookie is shared, and a refresh token presented twice revokes the login.
 */
export function refreshSession(): Promise<Session | null> {
  renewing ??= exclusive('lantern.refresh', async () => {
    const current = loadSession();
    const res = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...CSRF_HEADER },
      body: '{}',
    });
    if (res.status === 401 || res.status === 403) return null;
    if (!res.ok) throw new ApiError(res.status, res.statusText);
    const session = sessionFrom((await res.json()) as TokenAnswer);
    if (current && current.user.id !== session.user.id) return null;
    saveSession(session);
    for (const listener of renewedListeners) listener(session);
    return session;
  }).finally(() => (renewing = null));
  return renewing;
}

/** Whether this browser holds a refresh cookie (its readable companion says so; the cookie itself is httpOnly). */
export function mayHaveLogin(): boolean {
  return document.cookie.split(';').some((c) => c.trim() === 'lantern_signed_in=1');
}

function exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? locks.request(name, work) : work();
}

/**
 * Keeps the access token fresh while the page is open: renews it shortly before it expires (a
 * minute, or a fifth of its lifetime when shorter), retries every few seconds while the server is
 * unreachable, and calls `onOver` when the login is over. Returns the function that stops it.
 */
export function keepSessionFresh(onOver: () => void): () => void {
  let timer: number | undefined;
  let stopped = false;
  const schedule = (delayMs: number): void => {
    window.clearTimeout(timer);
    if (!stopped) timer = window.setTimeout(() => void renew(), Math.max(0, delayMs));
  };
  const plan = (session: Session | null): void => {
    if (session) schedule(session.expiresAt - Math.min(60_000, session.ttlMs / 5) - Date.now());
  };
  const renew = async (): Promise<void> => {
    try {
      const session = await refreshSession();
      if (session === null) onOver();
      // A renewal plans the next one through the listener below.
    } catch {
      schedule(5_000);
    }
  };
  const off = onSessionRenewed(plan);
  plan(loadSession());
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    off();
  };
}

/**
 * Ends the login on the server (best effort: the page signs out whatever happens) and forgets the
 * session. Names it by the access token and the refresh cookie, so it ends even when one is gone.
 */
export function endSession(): void {
  const session = loadSession();
  saveSession(null);
  void fetch('/api/v1/auth/logout', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...CSRF_HEADER,
      ...(session && { authorization: `Bearer ${session.token}` }),
    },
    body: '{}',
    keepalive: true,
  }).catch(() => undefined);
}

async function send(method: string, path: string, body: unknown, session: Session | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session) headers.authorization = `Bearer ${session.token}`;
  return fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/**
 * One JSON request to `/api/v1`; errors become ApiError with the server's message. An access token
 * about to expire is renewed first; a 401 is answered by one renewal and one retry (the token may
 * have lapsed while the laptop slept); a 401 after that, or a failed renewal, means the login is over.
 */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let session = loadSession();
  if (session && session.expiresAt - Date.now() < RENEW_BEFORE_REQUEST_MS)
    session = (await refreshSession()) ?? session;
  let res = await send(method, path, body, session);
  if (res.status === 401 && session) {
    const renewed = await refreshSession().catch(() => undefined);
    if (renewed) res = await send(method, path, body, renewed);
    if (renewed === null || (renewed && res.status === 401)) onUnauthorized();
  }
  const text = await res.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const { message, details } = (json ?? {}) as { message?: string | string[]; details?: unknown };
    const listed = Array.isArray(details) ? details.map(String) : Array.isArray(message) ? message : [];
    throw new ApiError(res.status, Array.isArray(message) ? message.join('; ') : (message ?? res.statusText), listed);
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

/** Signs in; the server also sets the refresh cookie, which is all this page keeps of the refresh token. */
export async function login(email: string, password: string): Promise<Session> {
  return sessionFrom(await request<TokenAnswer>('POST', '/auth/login', { email, password }));
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

/** One step of an alert's escalation chain as the timeline reports it: when it was due and when it started. */
export const getAlertTimeline = (id: string): Promise<AlertTimeline> => request('GET', `/alerts/${id}/timeline`);

/** A patient's or caregiver's "I'm taking care of it": stops the alert's escalation chain. */
export const confirmAlert = (id: string): Promise<AlertConfirmed> =>
  request('POST', `/me/alerts/${id}/acknowledge`, {});

export const getEscalation = (patientId: string): Promise<EscalationPolicy> =>
  request('GET', `/patients/${patientId}/escalation`);
export const putEscalation = (patientId: string, policy: EscalationPolicy): Promise<EscalationPolicy> =>
  request('PUT', `/patients/${patientId}/escalation`, policy);
/** Back to the defaults; answers the policy now in force. */
export const deleteEscalation = (patientId: string): Promise<unknown> =>
  request('DELETE', `/patients/${patientId}/escalation`);
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

/** A person the signed-in patient shares with (`GET /me/caregivers`). */
export interface Caregiver {
  id: string;
  email: string;
  name?: string;
  scopes: SharingScope[];
  status: 'invited' | 'active';
  invitedAt: string;
  acceptedAt?: string;
  invitationExpiresAt?: string;
}

/** An invitation as answered once by `POST /me/caregivers`: the token is never shown again. */
export interface InvitedCaregiver extends Caregiver {
  invitation: { token: string; expiresAt: string };
}

/** One line of `GET /me/access-log`: who did what with the patient's data, in plain words. */
export interface AccessLogEntry {
  id: string;
  at: string;
  actor: { id: string; name: string; role: Role };
  action: string;
  detail: string;
}

export const getCaregivers = (): Promise<Caregiver[]> => request('GET', '/me/caregivers');
export const inviteCaregiver = (input: {
  email: string;
  name?: string;
  scopes: SharingScope[];
}): Promise<InvitedCaregiver> => request('POST', '/me/caregivers', input);
export const changeCaregiverScopes = (id: string, scopes: SharingScope[]): Promise<Caregiver> =>
  request('PATCH', `/me/caregivers/${id}`, { scopes });
export const revokeCaregiver = (id: string): Promise<unknown> => request('DELETE', `/me/caregivers/${id}`);
export function getAccessLog(before?: string, limit = 20): Promise<AccessLogEntry[]> {
  const query = new URLSearchParams({ limit: String(limit), ...(before !== undefined && { before }) });
  return request('GET', `/me/access-log?${query.toString()}`);
}

/** Accepts a patient's invitation and signs in, as a login does (the server sets the refresh cookie). */
export async function acceptInvitation(token: string, password: string, name?: string): Promise<Session> {
  return sessionFrom(
    await request<TokenAnswer>('POST', '/auth/accept-invitation', {
      token,
      password,
      ...(name !== undefined && name !== '' && { name }),
    }),
  );
}
