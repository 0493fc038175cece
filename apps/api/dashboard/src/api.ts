import type {
  AcceptInvitationRequest,
  AccessLogEntryResource,
  AlertConfirmed,
  AlertResource,
  AlertRuleResource,
  AlertTimeline,
  CaregiverResource,
  ChangeScopesRequest,
  DeviceResource,
  EscalationPolicy,
  InviteCaregiverRequest,
  InvitedCaregiverResource,
  LatestReadingResource,
  LoginRequest,
  MetricKey,
  OffsetPageResource,
  PageResource,
  PatientDetailResource,
  PatientNotificationResource,
  PatientResource,
  ProvisionDeviceRequest,
  ProvisionedDeviceResource,
  ReadingBucketResource,
  ReadingSummaryResource,
  SharingScope,
  SignInResource,
  UserResource,
} from '@lantern/domain';

/**
 * The REST calls the dashboard makes (contract §3). The shapes are libs/domain's, which the API's
 * DTOs implement: a field renamed on the server fails this build.
 */

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
  user: UserResource;
}

/**
 * A metric's latest value as the views hold it: from `GET /patients/:id/latest` (with its device's
 * state) or from a live `reading` event, which carries none of that.
 */
export type LatestReading = Pick<LatestReadingResource, 'metric' | 'value' | 'ts' | 'deviceId'> &
  Partial<LatestReadingResource>;

/** A device as the views hold it: status fields not reported yet are null, as in live `device` events. */
export type Device = Omit<DeviceResource, 'battery' | 'lastSeenAt'> & {
  battery: number | null;
  lastSeenAt: string | null;
};

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

function sessionFrom(body: SignInResource): Session {
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
    const session = sessionFrom((await res.json()) as SignInResource);
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

/** A list answer: bare (patients, devices) or a page that counts its items (alerts, notifications). */
type ListAnswer<T> = T[] | (PageResource<T> & Partial<OffsetPageResource<T>>);

/** Follows offset pages up to `maxPages`; a bare list is all there is. */
async function allPages<T>(path: string, maxPages = 10): Promise<T[]> {
  const out: T[] = [];
  let offset = 0;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await request<ListAnswer<T>>('GET', page === 0 ? path : `${path}${sep}offset=${offset}`);
    if (Array.isArray(body)) return body;
    out.push(...body.items);
    const next = (body.offset ?? offset) + body.items.length;
    if (body.items.length === 0 || next >= body.total) break;
    offset = next;
  }
  return out;
}

/** Signs in; the server also sets the refresh cookie, which is all this page keeps of the refresh token. */
export async function login(email: string, password: string): Promise<Session> {
  const body: LoginRequest = { email, password };
  return sessionFrom(await request<SignInResource>('POST', '/auth/login', body));
}

export const getPatients = (): Promise<PatientResource[]> => allPages<PatientResource>('/patients');
export const getPatient = (id: string): Promise<PatientDetailResource> => request('GET', `/patients/${id}`);

export const getLatest = (patientId: string): Promise<LatestReadingResource[]> =>
  request('GET', `/patients/${patientId}/latest`);

export async function getDevices(patientId: string): Promise<Device[]> {
  const devices = await allPages<DeviceResource>(`/devices?patientId=${patientId}`);
  return devices.filter((d) => d.status !== 'decommissioned').map(normalizeDevice);
}

/** Status fields a device has not reported yet are absent in JSON; the views treat "unknown" as null. */
export function normalizeDevice(d: DeviceResource): Device {
  return { ...d, online: d.online ?? false, battery: d.battery ?? null, lastSeenAt: d.lastSeenAt ?? null };
}

export const provisionDevice = (input: ProvisionDeviceRequest): Promise<ProvisionedDeviceResource> =>
  request('POST', '/devices', input);

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
export const deleteEscalation = (patientId: string): Promise<EscalationPolicy> =>
  request('DELETE', `/patients/${patientId}/escalation`);
export const resolveAlert = (id: string): Promise<AlertResource> => request('POST', `/alerts/${id}/resolve`, {});

export const getAlertRules = (patientId: string): Promise<AlertRuleResource[]> =>
  request('GET', `/patients/${patientId}/alert-rules`);
/** Merged into the patient's override of the rule: `enabled` and any of its kind's parameters. */
export const putAlertRule = (
  patientId: string,
  key: string,
  body: Record<string, unknown>,
): Promise<AlertRuleResource> => request('PUT', `/patients/${patientId}/alert-rules/${encodeURIComponent(key)}`, body);
export const deleteAlertRule = (patientId: string, key: string): Promise<AlertRuleResource> =>
  request('DELETE', `/patients/${patientId}/alert-rules/${encodeURIComponent(key)}`);

export async function getBuckets(
  patientId: string,
  metric: MetricKey,
  from: Date,
  to: Date,
  bucket: string,
): Promise<ReadingBucketResource[]> {
  const q = new URLSearchParams({ metric, from: from.toISOString(), to: to.toISOString(), bucket });
  return request('GET', `/patients/${patientId}/readings?${q.toString()}`);
}

export const getSummary = (patientId: string, from: Date, to: Date): Promise<ReadingSummaryResource> =>
  request('GET', `/patients/${patientId}/summary?from=${from.toISOString()}&to=${to.toISOString()}`);

export async function getNotifications(): Promise<PatientNotificationResource[]> {
  return allPages<PatientNotificationResource>('/me/notifications?limit=100', 1);
}
export const markNotificationRead = (id: string): Promise<PatientNotificationResource> =>
  request('POST', `/me/notifications/${id}/read`, {});

export function patientName(p: PatientResource | undefined): string {
  return p?.displayName ?? 'Unknown patient';
}

export const getCaregivers = (): Promise<CaregiverResource[]> => request('GET', '/me/caregivers');
export const inviteCaregiver = (input: InviteCaregiverRequest): Promise<InvitedCaregiverResource> =>
  request('POST', '/me/caregivers', input);
export function changeCaregiverScopes(id: string, scopes: SharingScope[]): Promise<CaregiverResource> {
  const body: ChangeScopesRequest = { scopes };
  return request('PATCH', `/me/caregivers/${id}`, body);
}
export const revokeCaregiver = (id: string): Promise<unknown> => request('DELETE', `/me/caregivers/${id}`);
export function getAccessLog(before?: string, limit = 20): Promise<AccessLogEntryResource[]> {
  const query = new URLSearchParams({ limit: String(limit), ...(before !== undefined && { before }) });
  return request('GET', `/me/access-log?${query.toString()}`);
}

/** Accepts a patient's invitation and signs in, as a login does (the server sets the refresh cookie). */
export async function acceptInvitation(token: string, password: string, name?: string): Promise<Session> {
  const body: AcceptInvitationRequest = { token, password, ...(name !== undefined && name !== '' && { name }) };
  return sessionFrom(await request<SignInResource>('POST', '/auth/accept-invitation', body));
}
