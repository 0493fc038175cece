import { Body, Controller, Get, Header, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  CurrentActor,
  CurrentPrincipal,
  InvitationService,
  Public,
  SessionService,
  UserService,
  type Actor,
  type ClientInfo,
  type IssuedSession,
  type Principal,
} from '@lantern/auth';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { BadRequestError, UnauthorizedError } from '@lantern/domain';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { AcceptInvitationDto } from '../care-circle/care-circle.dto.js';
import { toUserDto, UserDto } from '../users/user.dto.js';
import { ChangePasswordDto, LoginDto, LoginResponseDto, LogoutDto, RefreshDto } from './auth.dto.js';
import { LoginRateLimitGuard } from './login-rate-limit.guard.js';
import { clearRefreshCookie, refreshTokenOf, setRefreshCookie } from './refresh-cookie.js';

function clientOf(request: Request): ClientInfo {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, ...(typeof agent === 'string' && { userAgent: agent }) };
}

function bearerOf(request: Request): string | undefined {
  const header = request.headers.authorization;
  return typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
}

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly invitations: InvitationService,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  @Post('auth/login')
  @Public()
  @UseGuards(LoginRateLimitGuard)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in.',
    description:
      'Failed attempts are throttled per account (LOGIN_MAX_FAILURES_PER_ACCOUNT) and per client address (LOGIN_MAX_FAILURES_PER_ADDRESS) within LOGIN_FAILURE_WINDOW: past either, 429 with Retry-After until the window ends. Successful logins never count.',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiErrors(400, 401, 429)
  @Header('Cache-Control', 'no-store')
  async login(
    @Body() body: LoginDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LoginResponseDto> {
    const issued = await this.users.login(body.email, body.password, clientOf(request));
    return this.answer(request, response, issued);
  }

  @Post('auth/accept-invitation')
  @Public()
  @UseGuards(LoginRateLimitGuard)
  @HttpCode(200)
  @ApiOperation({
    summary: "Accept a patient's invitation to see their data, and sign in (contract §4.2).",
    description:
      "Creates the caregiver account of the invited address with `password`, or links an existing caregiver account of that address — then `password` must be that account's current one. The token is single use and expires; an unknown, used, expired or revoked token, or a wrong password, answers 401. An address of a staff or patient account answers 409. Answers like a login.",
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiErrors(400, 401, 409, 429)
  @Header('Cache-Control', 'no-store')
  async acceptInvitation(
    @Body() body: AcceptInvitationDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LoginResponseDto> {
    return this.answer(request, response, await this.invitations.accept(body, clientOf(request)));
  }

  @Post('auth/refresh')
  @Public()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Exchange a refresh token for a new pair; the old one is spent.',
    description:
      'Presenting a spent refresh token again revokes that whole login (401): a stolen copy is detected. Without `refreshToken` in the body the `lantern_refresh` cookie is used, and then an `X-Requested-With` header is required (403 otherwise).',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiErrors(400, 401, 403)
  async refresh(
    @Body() body: RefreshDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LoginResponseDto> {
    const token = refreshTokenOf(request, body.refreshToken);
    try {
      if (token === undefined) throw new UnauthorizedError('No refresh token');
      return this.answer(request, response, await this.sessions.refresh(token, clientOf(request)));
    } catch (error) {
      // A refused cookie is dead: drop it, so the browser stops presenting it.
      if (error instanceof UnauthorizedError) clearRefreshCookie(request, response);
      throw error;
    }
  }

  @Post('auth/logout')
  @Public()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Sign out: that login is revoked at once (its access tokens answer 401, its sockets close).',
    description:
      "A `refreshToken` in the body names exactly the login to end. Without it, the bearer access token (which may have expired) names it, and the `lantern_refresh` cookie (with an `X-Requested-With` header) too when it is the same user's. Idempotent: an unknown or already ended login answers 204 too.",
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 403)
  async logout(
    @Body() body: LogoutDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    const refreshToken = refreshTokenOf(request, body.refreshToken);
    const accessToken = bearerOf(request);
    if (refreshToken === undefined && accessToken === undefined)
      throw new BadRequestError('Give refreshToken (or the refresh cookie) or an access token');
    await this.sessions.logout(
      { refreshToken, refreshTokenFromCookie: body.refreshToken === undefined, accessToken },
      clientOf(request),
    );
    clearRefreshCookie(request, response);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user.' })
  @ApiOkResponse({ type: UserDto })
  @ApiErrors(401)
  async me(@CurrentPrincipal() principal: Principal): Promise<UserDto> {
    return toUserDto(await this.users.get(principal.userId));
  }

  @Post('me/password')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({
    summary: "Change one's own password; every other login of the user is revoked, this one stays.",
    description: 'A wrong currentPassword answers 400 (not 401: the caller is still signed in).',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 401)
  async changePassword(@CurrentActor() actor: Actor, @Body() body: ChangePasswordDto): Promise<void> {
    await this.users.changeOwnPassword(actor, body.currentPassword, body.newPassword);
  }

  /** The token pair as answered, and the refresh token as the browser's httpOnly cookie. */
  private answer(request: Request, response: Response, issued: IssuedSession): LoginResponseDto {
    setRefreshCookie(request, response, issued.refreshToken, this.config.refreshTokenTtl);
    return {
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      expiresIn: issued.expiresIn,
      user: toUserDto(issued.user),
    };
  }
}
