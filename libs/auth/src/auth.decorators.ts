import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { UnauthorizedError, type Role } from '@lantern/domain';
import type { Principal } from './principal.js';

export const IS_PUBLIC_KEY = 'lantern:public';
export const ROLES_KEY = 'lantern:roles';

/** The route needs no access token (login, health, metrics, the broker's auth hooks). Every other route does. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/** Only these roles may call the route (403 for the others); without it, any signed-in user may. */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, roles);

/** Who is acting and from where: what the audit log records. */
export interface Actor {
  readonly principal: Principal;
  /** Client address as Express sees it (honours `trust proxy`). */
  readonly ip?: string;
}

/** What the access-token guard leaves on the request. */
export interface AuthenticatedRequest {
  principal?: Principal;
  ip?: string;
}

function principalOf(context: ExecutionContext): Principal {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  // Only reachable on a @Public() route, where asking for the caller is a programming error.
  if (principal === undefined) throw new UnauthorizedError();
  return principal;
}

/** The verified caller of this request. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal =>
  principalOf(context),
);

/** The verified caller of this request with its client address, for services that audit. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  return { principal: principalOf(context), ip: request.ip };
});
