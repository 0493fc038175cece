import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { JwtService } from '@nestjs/jwt';
import request from 'supertest';
import type { LiveUnauthorizedEvent } from '@lantern/domain';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import { LiveAuthService } from '../../apps/api/src/live/live-auth.service.js';
import type { TemporaryPasswordDto, UserDto } from '../../apps/api/src/users/user.dto.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../support/boot.js';
import { connectLive, type LiveClient } from '../live/live-fixture.js';
import { bodyOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/**
 * Contract §4.1 against the real api on PostgreSQL and the broker: short access tokens, rotating
 * refresh tokens with reuse detection, and revocation — logout, password change, admin reset,
 * disable, role change — that answers 401 on the next REST request and closes the user's sockets
 * within 5 s, on this api instance and on another one sharing the database. Times to disconnect
 * are measured and printed.
 */
describe('sessions and revocation (contract §4.1)', () => {
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let api: ApiFixture;
  let url: string;
  let second: ApiFixture;
  let admin: string;
  let adminId: string;
  const sockets: LiveClient[] = [];
  /** Measured time from sending the revoking request to the socket's disconnect, per case. */
  const timings: [string, number][] = [];

  interface Login extends LoginResponseDto {
    /** The `lantern_refresh` cookie as a browser would send it back. */
    readonly cookie: string;
  }

  interface Person {
    readonly id: string;
    readonly email: string;
    password: string;
  }

  async function person(role: 'clinician' | 'admin' = 'clinician'): Promise<Person> {
    const email = `${role}-${randomUUID().slice(0, 8)}@sessions.test`;
    const res = await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email, password, role, displayName: email })
      .expect(201);
    return { id: bodyOf<UserDto>(res).id, email, password };
  }

  async function signIn(who: { email: string; password: string }): Promise<Login> {
    const res = await api.http
      .post('/api/v1/auth/login')
      .send({ email: who.email, password: who.password })
      .expect(200);
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const cookie = setCookie.find((c) => c.startsWith('lantern_refresh='))?.split(';')[0] ?? '';
    return { ...bodyOf<LoginResponseDto>(res), cookie };
  }

  const status = async (token: string, on: ApiFixture['http'] = api.http): Promise<number> =>
    (await on.get('/api/v1/me').set(auth(token))).status;

  const refresh = (refreshToken: string) => api.http.post('/api/v1/auth/refresh').send({ refreshToken });

  interface Watched {
    readonly socket: LiveClient;
    readonly reasons: LiveUnauthorizedEvent['reason'][];
    closedAt?: number;
  }

  async function watch(token: string, at = url): Promise<Watched> {
    const socket = await connectLive(at, token);
    sockets.push(socket);
    const watched: Watched = { socket, reasons: [] };
    socket.on('unauthorized', (event) => watched.reasons.push(event.reason));
    socket.on('disconnect', () => (watched.closedAt ??= performance.now()));
    return watched;
  }

  /** Waits (≤ 5 s, the contract's bound) for the socket to close; records and returns the time since `since`. */
  async function closedWithin5s(what: string, watched: Watched, since: number): Promise<number> {
    await waitFor(() => watched.closedAt !== undefined, `${what}: socket closed`, 5000, 5);
    const ms = watched.closedAt! - since;
    timings.push([what, Math.round(ms)]);
    expect(ms).toBeLessThan(5000);
    expect(watched.reasons).toEqual(['revoked']);
    return ms;
  }

  async function auditActions(userId: string): Promise<string[]> {
    const rows: { action: string }[] = await api.db.query(
      `SELECT action FROM audit_log WHERE resource_id = $1 OR actor_id::text = $1 ORDER BY id`,
      [userId],
    );
    return rows.map((r) => r.action);
  }

  beforeAll(async () => {
    api = await startApi({}, { listen: true });
    url = api.url;
    // Another api instance on the same database and broker, as behind a load balancer.
    second = await startApi({}, { alongside: api, listen: true });
    const login = await signIn({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    admin = login.accessToken;
    adminId = login.user.id;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await second?.close();
    await api?.close();
    if (timings.length > 0)
      console.log(
        `time from revoking request to socket closed (ms):\n${timings.map(([w, ms]) => `  ${w}: ${ms}`).join('\n')}`,
      );
  });

  describe('login and refresh', () => {
    it('answers a token pair, sets the refresh cookie, and stores the refresh token only as a hash', async () => {
      const user = await person();
      const res = await api.http.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
      const body = bodyOf<LoginResponseDto>(res);
      expect(body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        expiresIn: 900,
        user: expect.objectContaining({ id: user.id, email: user.email, role: 'clinician' }),
      });
      expect(res.headers['cache-control']).toBe('no-store');
      const cookie = ([] as string[])
        .concat(res.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('lantern_refresh='));
      expect(cookie).toContain(`lantern_refresh=${body.refreshToken}`);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/Path=\/api\/v1\/auth/);
      expect(cookie).toMatch(/Max-Age=2592000/);

      const stored: { token_hash: string }[] = await api.db.query(
        `SELECT t.token_hash FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = $1`,
        [user.id],
      );
      expect(stored).toEqual([{ token_hash: createHash('sha256').update(body.refreshToken).digest('hex') }]);
      const everything = JSON.stringify(
        await api.db.query(`SELECT * FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id`),
      );
      expect(everything).not.toContain(body.refreshToken);
    });

    it('rotates: a new pair for the current refresh token, which is then spent; the login goes on', async () => {
      const user = await person();
      const first = await signIn(user);
      const res = await refresh(first.refreshToken).expect(200);
      const next = bodyOf<LoginResponseDto>(res);
      expect(next.refreshToken).not.toBe(first.refreshToken);
      expect(next).toMatchObject({ expiresIn: 900, user: { id: user.id } });
      expect(await status(next.accessToken)).toBe(200);
      // Same login: the access token issued before the refresh stays valid until it expires.
      expect(await status(first.accessToken)).toBe(200);
      const third = bodyOf<LoginResponseDto>(await refresh(next.refreshToken).expect(200));
      expect(await status(third.accessToken)).toBe(200);
      const sessions: { n: number }[] = await api.db.query(
        `SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`,
        [user.id],
      );
      expect(sessions[0].n).toBe(1);
    });

    it('refuses an unknown, malformed or missing refresh token with one 401', async () => {
      const unknown = await refresh('x'.repeat(43)).expect(401);
      expect(bodyOf<ErrorBodyDto>(unknown)).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid or expired refresh token',
      });
      await api.http.post('/api/v1/auth/refresh').send({}).expect(401);
      await api.http.post('/api/v1/auth/refresh').send({ refreshToken: 42 }).expect(400);
    });

    it('revokes the whole login when a spent refresh token comes back: REST 401 at once, sockets closed within 5 s', async () => {
      const user = await person();
      const stolen = await signIn(user);
      const other = await signIn(user);
      const socket = await watch(stolen.accessToken);
      const legit = bodyOf<LoginResponseDto>(await refresh(stolen.refreshToken).expect(200));
      const since = performance.now();
      await refresh(stolen.refreshToken).expect(401);
      expect(await status(stolen.accessToken)).toBe(401);
      expect(await status(legit.accessToken)).toBe(401);
      await refresh(legit.refreshToken).expect(401);
      await closedWithin5s('refresh token reuse (same instance)', socket, since);
      // Only that login: another login of the same user goes on.
      expect(await status(other.accessToken)).toBe(200);
      expect(await auditActions(user.id)).toContain('auth.refresh_reuse');
    });

    it('honours the refresh cookie only with X-Requested-With, and drops a refused one', async () => {
      const user = await person();
      const login = await signIn(user);
      const csrf = await api.http.post('/api/v1/auth/refresh').set('Cookie', login.cookie).send({}).expect(403);
      expect(bodyOf<ErrorBodyDto>(csrf).message).toBe(
        'A refresh cookie is honoured only with an X-Requested-With header',
      );
      const res = await api.http
        .post('/api/v1/auth/refresh')
        .set('Cookie', login.cookie)
        .set('X-Requested-With', 'lantern-dashboard')
        .send({})
        .expect(200);
      const renewed = bodyOf<LoginResponseDto>(res);
      expect(([] as string[]).concat(res.headers['set-cookie'] ?? []).join()).toContain(
        `lantern_refresh=${renewed.refreshToken}`,
      );
      // The old cookie again: reuse, the login ends, and the answer tells the browser to forget the cookie.
      const reused = await api.http
        .post('/api/v1/auth/refresh')
        .set('Cookie', login.cookie)
        .set('X-Requested-With', 'lantern-dashboard')
        .send({})
        .expect(401);
      expect(([] as string[]).concat(reused.headers['set-cookie'] ?? []).join()).toMatch(
        /lantern_refresh=;.*Expires=Thu, 01 Jan 1970/,
      );
      expect(await status(renewed.accessToken)).toBe(401);
    });

    it('refuses an expired access token, and one whose login does not exist', async () => {
      const user = await person();
      const login = await signIn(user);
      const { sid } = JSON.parse(Buffer.from(login.accessToken.split('.')[1], 'base64url').toString()) as {
        sid: string;
      };
      const jwt = new JwtService({ secret: process.env.JWT_SECRET! });
      const claims = { sub: user.id, role: 'clinician', email: user.email };
      const expired = jwt.sign({ ...claims, sid, exp: Math.floor(Date.now() / 1000) - 1 }, { issuer: 'lantern' });
      const noSuchLogin = jwt.sign({ ...claims, sid: randomUUID() }, { issuer: 'lantern' });
      expect(await status(expired)).toBe(401);
      expect(await status(noSuchLogin)).toBe(401);
      await expect(connectLive(url, noSuchLogin)).rejects.toThrow('unauthorized');
    });
  });

  describe('revocation: 401 on the next request, sockets closed within 5 s', () => {
    it('logout ends that login only, and is idempotent', async () => {
      const user = await person();
      const login = await signIn(user);
      const other = await signIn(user);
      const socket = await watch(login.accessToken);
      const otherSocket = await watch(other.accessToken);
      const since = performance.now();
      await api.http.post('/api/v1/auth/logout').send({ refreshToken: login.refreshToken }).expect(204);
      expect(await status(login.accessToken)).toBe(401);
      await refresh(login.refreshToken).expect(401);
      await closedWithin5s('logout', socket, since);
      await api.http.post('/api/v1/auth/logout').send({ refreshToken: login.refreshToken }).expect(204);
      expect(await status(other.accessToken)).toBe(200);
      await second.app.get(LiveAuthService).sweepSessions();
      await api.app.get(LiveAuthService).sweepSessions();
      expect(otherSocket.socket.connected).toBe(true);
      expect(await auditActions(user.id)).toEqual(expect.arrayContaining(['auth.login', 'auth.logout']));
    });

    it('logout by access token alone (the dashboard whose cookie is gone), expired or not', async () => {
      const user = await person();
      const login = await signIn(user);
      await api.http.post('/api/v1/auth/logout').set(auth(login.accessToken)).send({}).expect(204);
      expect(await status(login.accessToken)).toBe(401);
      await refresh(login.refreshToken).expect(401);
      await api.http.post('/api/v1/auth/logout').send({}).expect(400);
    });

    it('a password change ends every other login of the user; this one stays', async () => {
      const user = await person();
      const here = await signIn(user);
      const elsewhere = await signIn(user);
      const hereSocket = await watch(here.accessToken);
      const elsewhereSocket = await watch(elsewhere.accessToken);

      const wrong = await api.http
        .post('/api/v1/me/password')
        .set(auth(here.accessToken))
        .send({ currentPassword: 'not-the-password', newPassword: 'another-long-password' })
        .expect(400);
      expect(bodyOf<ErrorBodyDto>(wrong).message).toBe('currentPassword is not the current password');
      expect(await status(elsewhere.accessToken)).toBe(200);
      await api.http
        .post('/api/v1/me/password')
        .set(auth(here.accessToken))
        .send({ currentPassword: password, newPassword: 'short' })
        .expect(400);

      const since = performance.now();
      await api.http
        .post('/api/v1/me/password')
        .set(auth(here.accessToken))
        .send({ currentPassword: password, newPassword: 'another-long-password' })
        .expect(204);
      expect(await status(elsewhere.accessToken)).toBe(401);
      await refresh(elsewhere.refreshToken).expect(401);
      await closedWithin5s('password change', elsewhereSocket, since);
      expect(await status(here.accessToken)).toBe(200);
      await refresh(here.refreshToken).expect(200);
      await api.app.get(LiveAuthService).sweepSessions();
      expect(hereSocket.socket.connected).toBe(true);

      await api.http.post('/api/v1/auth/login').send({ email: user.email, password }).expect(401);
      await signIn({ email: user.email, password: 'another-long-password' });
      expect(await auditActions(user.id)).toEqual(
        expect.arrayContaining(['auth.password_change_failed', 'auth.password_change']),
      );
    });

    it('an admin reset ends every login of the user and answers a temporary password, once', async () => {
      const user = await person();
      const login = await signIn(user);
      const socket = await watch(login.accessToken);
      const since = performance.now();
      const res = await api.http.post(`/api/v1/users/${user.id}/reset-password`).set(auth(admin)).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const { temporaryPassword } = bodyOf<TemporaryPasswordDto>(res);
      expect(temporaryPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(await status(login.accessToken)).toBe(401);
      await refresh(login.refreshToken).expect(401);
      await closedWithin5s('admin password reset', socket, since);
      await api.http.post('/api/v1/auth/login').send({ email: user.email, password }).expect(401);
      await signIn({ email: user.email, password: temporaryPassword });
      expect(await auditActions(user.id)).toContain('user.password_reset');
      await api.http.post(`/api/v1/users/${randomUUID()}/reset-password`).set(auth(admin)).expect(404);
    });

    it('disabling ends every login and refuses new ones until re-enabled', async () => {
      const user = await person();
      const first = await signIn(user);
      const secondLogin = await signIn(user);
      const socket = await watch(first.accessToken);
      const since = performance.now();
      const res = await api.http
        .patch(`/api/v1/users/${user.id}`)
        .set(auth(admin))
        .send({ disabled: true })
        .expect(200);
      expect(bodyOf<UserDto>(res)).toMatchObject({ id: user.id, disabledAt: expect.any(String) });
      expect(await status(first.accessToken)).toBe(401);
      expect(await status(secondLogin.accessToken)).toBe(401);
      await refresh(secondLogin.refreshToken).expect(401);
      await closedWithin5s('disable', socket, since);
      await api.http.post('/api/v1/auth/login').send({ email: user.email, password }).expect(401);

      const enabled = await api.http
        .patch(`/api/v1/users/${user.id}`)
        .set(auth(admin))
        .send({ disabled: false })
        .expect(200);
      expect(bodyOf<UserDto>(enabled).disabledAt).toBeUndefined();
      // Re-enabling does not bring the ended logins back.
      expect(await status(first.accessToken)).toBe(401);
      expect(await status((await signIn(user)).accessToken)).toBe(200);
      expect(await auditActions(user.id)).toEqual(expect.arrayContaining(['user.disable', 'user.enable']));
    });

    it('a role change ends every login: tokens carry the role', async () => {
      const user = await person('clinician');
      const login = await signIn(user);
      const socket = await watch(login.accessToken);
      const since = performance.now();
      await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({ role: 'admin' }).expect(200);
      expect(await status(login.accessToken)).toBe(401);
      await refresh(login.refreshToken).expect(401);
      await closedWithin5s('role change', socket, since);
      expect((await signIn(user)).user.role).toBe('admin');
      const audit: { details: { from: string; to: string; endedSessions: number } }[] = await api.db.query(
        `SELECT details FROM audit_log WHERE action = 'user.role_change' AND resource_id = $1`,
        [user.id],
      );
      expect(audit.map((a) => a.details)).toEqual([{ from: 'clinician', to: 'admin', endedSessions: 1 }]);
      // The same role again changes nothing and ends nothing.
      const again = await signIn(user);
      await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({ role: 'admin' }).expect(200);
      expect(await status(again.accessToken)).toBe(200);
    });

    it('reaches the sockets of another api instance within 5 s, and its REST at once', async () => {
      const user = await person();
      const login = await signIn(user);
      const socket = await watch(login.accessToken, second.url);
      const since = performance.now();
      await api.http.post('/api/v1/auth/logout').send({ refreshToken: login.refreshToken }).expect(204);
      expect(await status(login.accessToken, request(second.url))).toBe(401);
      const ms = await closedWithin5s('logout, socket on another instance', socket, since);
      // The other instance finds it at its next session sweep (every 2 s), not by luck.
      expect(ms).toBeLessThan(2000 + 1000);
    });
  });

  describe('account changes an admin may not make', () => {
    it('refuses changing oneself, patient roles, empty and unknown changes', async () => {
      const self = await api.http.patch(`/api/v1/users/${adminId}`).set(auth(admin)).send({ disabled: true });
      expect(self.status).toBe(403);
      expect(bodyOf<ErrorBodyDto>(self).message).toBe('An admin cannot change their own role or disable themselves');
      const user = await person();
      await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({ role: 'patient' }).expect(400);
      await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({}).expect(400);
      await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({ disabled: 'yes' }).expect(400);
      await api.http.patch(`/api/v1/users/${randomUUID()}`).set(auth(admin)).send({ disabled: true }).expect(404);
      await api.http.patch('/api/v1/users/not-a-uuid').set(auth(admin)).send({ disabled: true }).expect(400);
      expect(await status(admin)).toBe(200);
    });
  });

  describe('a socket outlives its access token when handed a renewed one', () => {
    it('`authenticate` re-arms the expiry; another user’s or a garbage token is refused', async () => {
      const user = await person();
      const login = await signIn(user);
      const { sid } = JSON.parse(Buffer.from(login.accessToken.split('.')[1], 'base64url').toString()) as {
        sid: string;
      };
      const jwt = new JwtService({ secret: process.env.JWT_SECRET! });
      const claims = { sub: user.id, role: 'clinician', email: user.email, sid };
      const opened = Date.now();
      const shortLived = jwt.sign({ ...claims, exp: Math.floor(opened / 1000) + 2 }, { issuer: 'lantern' });
      const renewed = jwt.sign({ ...claims, exp: Math.floor(opened / 1000) + 4 }, { issuer: 'lantern' });
      const watched = await watch(shortLived);
      const ask = (body: unknown) =>
        (
          watched.socket.timeout(5000) as unknown as { emitWithAck(e: string, b: unknown): Promise<unknown> }
        ).emitWithAck('authenticate', body);
      expect(await ask({ token: admin })).toEqual({ ok: false, error: 'unauthorized' });
      expect(await ask({ token: 'garbage' })).toEqual({ ok: false, error: 'unauthorized' });
      expect(await ask({})).toEqual({ ok: false, error: 'bad_request' });
      expect(await ask({ token: renewed })).toEqual({ ok: true });
      await waitFor(() => watched.closedAt !== undefined, 'close at the renewed expiry', 6000, 10);
      // Closed at the renewed token's expiry (after 3-4 s), not the first one's (after 1-2 s), and told why.
      expect(Date.now() - opened).toBeGreaterThanOrEqual(3000);
      expect(watched.reasons).toEqual(['expired']);
    });
  });
});
