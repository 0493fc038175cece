import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { UserService } from '@lantern/auth';
import { AuthController } from './auth.controller.js';
import { LoginRateLimitGuard } from './login-rate-limit.guard.js';

/** Sign-in over HTTP, its rate limit, and the first admin on an empty database. */
@Module({ controllers: [AuthController], providers: [LoginRateLimitGuard] })
export class AuthApiModule implements OnApplicationBootstrap {
  constructor(private readonly users: UserService) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.users.ensureInitialAdmin();
  }
}
