import { Controller, Get, Header, Inject, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Counter, register } from 'prom-client';
import { Public } from '@lantern/auth';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { MetricsAccessGuard } from './metrics-access.guard.js';

let defaultsCollected = false;

/**
 * Prometheus text of the api process (contract §3.6): prom-client's global registry, where the
 * api's modules (e.g. the live gateway's connected sockets) register their metrics. The ingest
 * process serves its own.
 */
@ApiTags('operations')
@Public()
@UseGuards(MetricsAccessGuard)
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    // Once per process: tests boot several apps in one process.
    if (!defaultsCollected) {
      collectDefaultMetrics({ prefix: 'lantern_api_' });
      // Restarts of this role by npm start's supervisor before this process (LANTERN_ROLE_RESTARTS):
      // each restart's new process carries the counter on from where the old one stopped.
      new Counter({
        name: 'lantern_role_restarts_total',
        help: "Times npm start's supervisor restarted this role after it exited on its own",
        labelNames: ['role'] as const,
      })
        .labels('api')
        .inc(config.roleRestarts);
    }
    defaultsCollected = true;
  }

  @Get()
  @Header('Content-Type', register.contentType)
  @ApiOperation({
    summary: 'Prometheus metrics of the api process.',
    description:
      'With METRICS_TOKEN set: `Authorization: Bearer <METRICS_TOKEN>` required (401). Unset: loopback clients only, not through a proxy (403).',
  })
  @ApiErrors(401, 403)
  @ApiProduces('text/plain')
  @ApiOkResponse({ type: String })
  metrics(): Promise<string> {
    return register.metrics();
  }
}
