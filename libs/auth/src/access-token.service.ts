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
}

export interface IssuedAccessToken {
  readonly accessToken: string;
  readonly expiresAt: Date;
}

/**
 * Issues and verifies the signed, expiring access tokens (HS256). Usable outside HTTP: the
 * Socket.IO gateway verifies the handshake token with {@link verify}.
 */
@Injectable()
export class AccessTokenService {
  private readonly jwt: JwtService;
  private readonly ttlSeconds: number;

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    this.ttlSeconds = Math.floor(config.jwtTtl / 1000);
    // A KeyObject, built once: given the string, jsonwebtoken first tries (and fails) to parse it as
    // a public key on every verification — a thrown exception per request.
    const key = createSecretKey(Buffer.from(resolveJwtSecret(config)));
    this.jwt = new JwtService({
      secretOrKeyProvider: () => key,
      signOptions: { algorithm: 'HS256', issuer: ISSUER, expiresIn: this.ttlSeconds },
      verifyOptions: { algorithms: ['HS256'], issuer: ISSUER },
    });
  }

  issue(principal: Principal): IssuedAccessToken {
    const claims: AccessTokenClaims = { sub: principal.userId, role: principal.role, email: principal.email };
    if (principal.patientId !== undefined) claims.pid = principal.patientId;
    return { accessToken: this.jwt.sign(claims), expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) };
  }

  /** The caller proven by `token`; throws UnauthorizedError for a missing, expired, forged or malformed token. */
  verify(token: string | undefined | null): Principal {
    if (typeof token !== 'string' || token === '') throw new UnauthorizedError('Missing access token');
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = this.jwt.verify<AccessTokenClaims>(token);
    } catch {
      throw new UnauthorizedError('Invalid or expired access token');
    }
    const { sub, role, email, pid } = claims;
    if (
      typeof sub !== 'string' ||
      !isRole(role) ||
      typeof email !== 'string' ||
      (role === 'patient') !== (typeof pid === 'string')
    ) {
      throw new UnauthorizedError('Invalid access token');
    }
    return role === 'patient' ? { userId: sub, role, email, patientId: pid } : { userId: sub, role, email };
  }
}
