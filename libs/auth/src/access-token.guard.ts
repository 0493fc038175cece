import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, type Role } from '@lantern/domain';
import { AccessTokenService } from './access-token.service.js';
import { IS_PUBLIC_KEY, ROLES_KEY, type AuthenticatedRequest } from './auth.decorators.js';
import { SessionService } from './session.service.js';

interface HttpRequest extends AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Global HTTP guard: every route requires a valid bearer token of a live login unless marked
 * @Public(), and a role listed by @Roles() when present. Secure by default, so a route added later
 * cannot forget it. The login is checked in the database on every request (not cached): a logout,
 * password change, disable or role change answers 401 on the very next request, on every api
 * instance. Socket.IO has its own handshake check and is left alone here.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: AccessTokenService,
    private readonly sessions: SessionService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;

    const request = context.switchToHttp().getRequest<HttpRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const principal = this.tokens.verify(match?.[1]);
    await this.sessions.assertActive(principal);
    request.principal = principal;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (roles !== undefined && !roles.includes(request.principal.role)) throw new ForbiddenError();
    return true;
  }
}
