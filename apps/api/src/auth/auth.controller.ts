import { Body, Controller, Get, HttpCode, Ip, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Public, UserService, type Principal } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { toUserDto, UserDto } from '../users/user.dto.js';
import { LoginDto, LoginResponseDto } from './auth.dto.js';
import { LoginRateLimitGuard } from './login-rate-limit.guard.js';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(private readonly users: UserService) {}

  @Post('auth/login')
  @Public()
  @UseGuards(LoginRateLimitGuard)
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in; rate-limited to LOGIN_RATE_LIMIT attempts per minute per client address.' })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiErrors(400, 401, 429)
  async login(@Body() body: LoginDto, @Ip() ip: string): Promise<LoginResponseDto> {
    const result = await this.users.login(body.email, body.password, ip);
    return { accessToken: result.accessToken, expiresAt: result.expiresAt.toISOString(), user: toUserDto(result.user) };
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user.' })
  @ApiOkResponse({ type: UserDto })
  @ApiErrors(401)
  async me(@CurrentPrincipal() principal: Principal): Promise<UserDto> {
    return toUserDto(await this.users.get(principal.userId));
  }
}
