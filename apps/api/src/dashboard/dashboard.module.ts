import { join } from 'node:path';
import { Logger, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ExpressAdapter } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { findDashboardDir, isPageRequest } from './dashboard-files.js';

/**
 * Serves the clinician dashboard and patient view (static files built by Vite) at `/`, with
 * index.html for client-side routes such as `/patients/:id`. Registered on the HTTP adapter
 * during module init, after Nest's routes and before its 404 handler, so `/api/v1` is untouched;
 * this also works under `Test.createTestingModule`, where @nestjs/serve-static answers 404.
 */
@Module({})
export class DashboardModule implements OnModuleInit {
  private readonly logger = new Logger(DashboardModule.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as ExpressAdapter | undefined;
    if (!adapter || typeof adapter.useStaticAssets !== 'function') return;
    const dir = findDashboardDir();
    if (!dir) {
      this.logger.warn('Dashboard not built (no dist/dashboard): run `npm run build:dashboard` to serve it at /');
      return;
    }
    adapter.useStaticAssets(dir, {
      index: 'index.html',
      setHeaders: (res: Response, path: string) => {
        // Vite fingerprints asset names, so they never change; the page itself must be revalidated.
        res.setHeader(
          'Cache-Control',
          path.includes(`${join('dashboard', 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
    const indexHtml = join(dir, 'index.html');
    adapter.use((req: Request, res: Response, next: NextFunction) => {
      if (!isPageRequest(req.method, req.path, req.headers.accept)) return next();
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(indexHtml, (err) => err && next(err));
    });
    this.logger.log(`Dashboard served at / from ${dir}`);
  }
}
