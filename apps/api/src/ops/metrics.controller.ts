import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, register } from 'prom-client';
import { Public } from '@lantern/auth';

let defaultsCollected = false;

/**
 * Prometheus text of the api process (contract §3.6): prom-client's global registry, where the
 * api's modules (e.g. the live gateway's connected sockets) register their metrics. The ingest
 * process serves its own.
 */
@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor() {
    // Once per process: tests boot several apps in one process.
    if (!defaultsCollected) collectDefaultMetrics({ prefix: 'lantern_api_' });
    defaultsCollected = true;
  }

  @Get()
  @Header('Content-Type', register.contentType)
  @ApiOperation({ summary: 'Prometheus metrics of the api process.' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ type: String })
  metrics(): Promise<string> {
    return register.metrics();
  }
}
