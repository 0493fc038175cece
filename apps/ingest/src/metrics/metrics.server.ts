import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { IngestMetrics } from './ingest-metrics.js';

/** Serves the ingest's Prometheus text at `GET /metrics` on INGEST_METRICS_PORT (the api's /metrics is the api's own). */
@Injectable()
export class MetricsServer implements OnApplicationShutdown {
  private readonly logger = new Logger('IngestMetrics');
  private server: Server | undefined;

  constructor(
    private readonly metrics: IngestMetrics,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async start(): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
        this.metrics
          .scrape()
          .then((text) => {
            res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
            res.end(text);
          })
          .catch((error: unknown) => {
            res.writeHead(500).end(String(error));
          });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.ingestMetricsPort, this.config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    this.logger.log(`Ingest metrics on http://${this.config.host}:${port}/metrics`);
    return port;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
