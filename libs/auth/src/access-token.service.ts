import { createSecretKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { isRole, UnauthorizedError, type Role } from '@lantern/domain';
import { resolveJwtSecret } from './jwt-secret.js';
import type { Principal } from './principal.js';

const ISSUER = 'lantern';

interface AccessTokenClaims {
  sub: string;
  role: Role;
  email: string;
  /** Patient record of a patient user. */
  pid?: string;
  /** The login (session) this token belongs to. */
  sid: string;
}

export interface IssuedAccessToken {
  readonly accessToken: string;
  readonly expiresAt: Date;
  /** Lifetime in seconds (`expiresIn` of the login answer). */
  readonly expiresIn: number;
}

/** A principal with the login it acts in: what an access token is issued for. */
export type SessionPrincipal = Principal & { readonly sessionId: string };

/**
 * Issues and verifies the signed, expiring access tokens (HS256). The signature and expiry only:
 * whether the login is still live is SessionService's question, asked on every request. Usable
 * outside HTTP: the Socket.IO gateway verifies the handshake token with {@link verify}.
 */
@Injectable()
export class AccessTokenService {
  private readonly jwt: JwtService;
  private readonly ttlSeconds: number;

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    this.ttlSeconds = Math.floor(config.accessTokenTtl / 1000);
    // A KeyObject, built once: given the string, jsonwebtoken first tries (and fails) to parse it as
    // a public key on every verification — a thrown exception per request.
    const key = createSecretKey(Buffer.from(resolveJwtSecret(config)));
    this.jwt = new JwtService({
      secretOrKeyProvider: () => key,
      signOptions: { algorithm: 'HS256', issuer: ISSUER, expiresIn: this.ttlSeconds },
      verifyOptions: { algorithms: ['HS256'], issuer: ISSUER },
    });
  }

  issue(principal: SessionPrincipal): IssuedAccessToken {
    const claims: AccessTokenClaims = {
      sub: principal.userId,
      role: principal.role,
      email: principal.email,
      sid: principal.sessionId,
    };
    if (principal.patientId !== undefined) claims.pid = principal.patientId;
    return {
      accessToken: this.jwt.sign(claims),
      expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
      expiresIn: this.ttlSeconds,
    };
  }

  /**
   * The caller proven by `token`; throws UnauthorizedError for a missing, expired, forged or
   * malformed token, and for one without a login (`sid`): every token Lantern issues names one.
   */
  verify(token: string | undefined | null, { ignoreExpiration = false } = {}): SessionPrincipal {
    if (typeof token !== 'string' || token === '') throw new UnauthorizedError('Missing access token');
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = this.jwt.verify<AccessTokenClaims>(token, { ignoreExpiration });
    } catch {
      throw new UnauthorizedError('Invalid or expired access token');
    }
    const { sub, role, email, pid, sid } = claims;
    if (
      typeof sub !== 'string' ||
      !isRole(role) ||
      typeof email !== 'string' ||
      typeof sid !== 'string' ||
      (role === 'patient') !== (typeof pid === 'string')
    ) {
      throw new UnauthorizedError('Invalid access token');
    }
    return role === 'patient'
      ? { userId: sub, role, email, patientId: pid, sessionId: sid }
      : { userId: sub, role, email, sessionId: sid };
  }

  /**
   * The login a genuine token names even after it expired, or undefined: enough to end that login
   * (logout), never to act in it.
   */
  verifyIgnoringExpiry(token: string): SessionPrincipal | undefined {
    try {
      return this.verify(token, { ignoreExpiration: true });
    } catch {
      return undefined;
    }
  }
}
