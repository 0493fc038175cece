import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { UUID_PATTERN, type Role } from '@lantern/domain';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { inTransaction, managerOf } from '../transactions.js';
import { returnedRows } from './sql-helpers.js';
import { USER_COLUMNS, userRecordOf, type SessionEndReason, type UserRecord, type UserRow } from './user.repository.js';

/** The per-request (and per-socket sweep) session check: prepared (prepared-statements.ts). */
const LIVE_ROLES = prepared(
  'live_session_roles',
  `SELECT s.id, s.user_id, u.role FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = ANY($1::uuid[]) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL`,
);

/** One login: a refresh-token family. */
export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly createdAt: Date;
  readonly refreshedAt: Date;
  /** When the login ends unless refreshed before. */
  readonly expiresAt: Date;
  readonly revokedAt?: Date;
  readonly revokedReason?: SessionEndReason;
}

export interface NewSession {
  readonly userId: string;
  /** The hash the password was just verified against: a login racing a password change fails. */
  readonly verifiedPasswordHash: string;
  /** SHA-256 of the first refresh token. */
  readonly tokenHash: string;
  readonly ttlMs: number;
  readonly ip?: string;
  readonly userAgent?: string;
}

/** What is known about a presented refresh token Lantern issued, read under lock during a rotation. */
export interface RefreshTokenFacts {
  /** Already exchanged for a newer one. */
  readonly spent: boolean;
  readonly session: SessionRecord;
  readonly user: UserRecord;
}

/** What to do with a presented refresh token; decided by the caller from {@link RefreshTokenFacts}. */
export type RotationDecision = 'rotate' | 'revoke_family' | 'refuse';

export type RotationResult =
  | { readonly outcome: 'rotated'; readonly session: SessionRecord; readonly user: UserRecord }
  | { readonly outcome: 'family_revoked'; readonly session: SessionRecord; readonly user: UserRecord }
  | { readonly outcome: 'refused' };

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  refreshed_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: SessionEndReason | null;
}

const SESSION_COLUMNS = 'id, user_id, created_at, refreshed_at, expires_at, revoked_at, revoked_reason';

function toSession(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: row.created_at,
    refreshedAt: row.refreshed_at,
    expiresAt: row.expires_at,
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
    ...(row.revoked_reason !== null && { revokedReason: row.revoked_reason }),
  };
}

/**
 * Logins and their refresh tokens (tokens stored as SHA-256 hashes only). Every statement that
 * starts or extends a login reads the user row FOR SHARE, and every account change that ends logins
 * (UserRepository) updates that row first: the two are serialised, so a login or refresh racing a
 * disable, role change or password change either finishes first and is revoked by it, or sees it.
 * Locks are taken in one order everywhere — refresh token, user, session — so they cannot deadlock.
 */
@Injectable()
export class SessionRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Starts a login with its first refresh token. Undefined when the user is gone, disabled, or their
   * password changed since it was verified.
   */
  async create(input: NewSession): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    return inTransaction(this.db, async (tx) => {
      const user = await lockUser(tx, input.userId);
      if (user === undefined || user.row.disabled_at !== null || user.row.password_hash !== input.verifiedPasswordHash)
        return undefined;
      const rows: SessionRow[] = await tx.query(
        `INSERT INTO sessions (user_id, expires_at, ip, user_agent)
         VALUES ($1, now() + $2 * interval '1 millisecond', $3, $4) RETURNING ${SESSION_COLUMNS}`,
        [input.userId, input.ttlMs, input.ip ?? null, input.userAgent?.slice(0, 300) ?? null],
      );
      await tx.query(`INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, [
        input.tokenHash,
        rows[0].id,
      ]);
      return { session: toSession(rows[0]), user: user.record };
    });
  }

  /**
   * Exchanges a refresh token (by hash) for `newTokenHash`, as `decide` rules on what the token
   * is (an unknown token is refused without asking): `rotate` spends it, stores the new one and moves the login's expiry to `ttlMs` from now;
   * `revoke_family` ends the login (a spent token presented again: a stolen copy); `refuse` changes
   * nothing. One transaction, the token row locked, so two exchanges of one token cannot both rotate.
   */
  async rotate(
    tokenHash: string,
    newTokenHash: string,
    ttlMs: number,
    decide: (facts: RefreshTokenFacts) => RotationDecision,
  ): Promise<RotationResult> {
    return inTransaction(this.db, async (tx) => {
      const tokens: { session_id: string; spent_at: Date | null; user_id: string }[] = await tx.query(
        `SELECT t.session_id, t.spent_at, s.user_id
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = $1 FOR UPDATE OF t`,
        [tokenHash],
      );
      const token = tokens[0];
      if (token === undefined) return { outcome: 'refused' };
      // The user cannot be gone: deleting a user deletes its sessions and their tokens.
      const user = (await lockUser(tx, token.user_id))!;
      const sessions: SessionRow[] = await tx.query(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE`,
        [token.session_id],
      );
      const session = toSession(sessions[0]);
      const decision = decide({ spent: token.spent_at !== null, session, user: user.record });
      if (decision === 'refuse') return { outcome: 'refused' };
      if (decision === 'revoke_family') {
        const revoked = await revokeIn(tx, session.id, 'refresh_token_reuse');
        return { outcome: 'family_revoked', session: revoked ?? session, user: user.record };
      }
      await tx.query(`UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = $1`, [tokenHash]);
      await tx.query(`INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, [newTokenHash, session.id]);
      const updated: SessionRow[] = returnedRows(
        await tx.query(
          `UPDATE sessions SET refreshed_at = now(), expires_at = now() + $2 * interval '1 millisecond'
           WHERE id = $1 RETURNING ${SESSION_COLUMNS}`,
          [session.id, ttlMs],
        ),
      );
      return { outcome: 'rotated', session: toSession(updated[0]), user: user.record };
    });
  }

  /** The login a refresh token (spent or not) belongs to. */
  async findByTokenHash(tokenHash: string): Promise<SessionRecord | undefined> {
    const rows: SessionRow[] = await managerOf(this.db).query(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)`,
      [tokenHash],
    );
    return rows[0] && toSession(rows[0]);
  }

  async findById(sessionId: string): Promise<SessionRecord | undefined> {
    if (!UUID_PATTERN.test(sessionId)) return undefined;
    const rows: SessionRow[] = await managerOf(this.db).query(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [
      sessionId,
    ]);
    return rows[0] && toSession(rows[0]);
  }

  /** Ends a login; the record as ended, or undefined when it was already over (or never existed). */
  async revoke(sessionId: string, reason: SessionEndReason): Promise<SessionRecord | undefined> {
    if (!UUID_PATTERN.test(sessionId)) return undefined;
    return revokeIn(managerOf(this.db), sessionId, reason);
  }

  /**
   * The role each of `sessionIds` may still act as: present only for a login that is not revoked,
   * not expired, of a user who is not disabled. One indexed query for any number of ids (the
   * per-request check and the socket sweep).
   */
  async liveRoles(sessionIds: readonly string[]): Promise<Map<string, { userId: string; role: Role }>> {
    const ids = [...new Set(sessionIds.filter((id) => UUID_PATTERN.test(id)))];
    if (ids.length === 0) return new Map();
    const rows = await queryPrepared<{ id: string; user_id: string; role: Role }>(this.db, LIVE_ROLES, [ids]);
    return new Map(rows.map((row) => [row.id, { userId: row.user_id, role: row.role }]));
  }

  /**
   * Deletes logins that ended more than `horizonMs` ago (with their tokens), and spent tokens older
   * than that (past their own lifetime, a replay is refused as unknown either way).
   */
  async prune(horizonMs: number): Promise<{ sessions: number; tokens: number }> {
    const sessions: unknown[] = returnedRows(
      await managerOf(this.db).query(
        `DELETE FROM sessions WHERE expires_at < now() - $1 * interval '1 millisecond'
           OR revoked_at < now() - $1 * interval '1 millisecond' RETURNING 1`,
        [horizonMs],
      ),
    );
    const tokens: unknown[] = returnedRows(
      await managerOf(this.db).query(
        `DELETE FROM refresh_tokens WHERE spent_at < now() - $1 * interval '1 millisecond' RETURNING 1`,
        [horizonMs],
      ),
    );
    return { sessions: sessions.length, tokens: tokens.length };
  }
}

async function lockUser(tx: EntityManager, userId: string): Promise<{ row: UserRow; record: UserRecord } | undefined> {
  const rows: UserRow[] = await tx.query(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE id = $1 FOR SHARE`, [
    userId,
  ]);
  return rows[0] && { row: rows[0], record: userRecordOf(rows[0]) };
}

async function revokeIn(
  manager: EntityManager,
  sessionId: string,
  reason: SessionEndReason,
): Promise<SessionRecord | undefined> {
  const rows: SessionRow[] = returnedRows(
    await manager.query(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL
       RETURNING ${SESSION_COLUMNS}`,
      [sessionId, reason],
    ),
  );
  return rows[0] && toSession(rows[0]);
}
