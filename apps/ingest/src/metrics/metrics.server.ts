import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { isForwarded, metricsAccess, METRICS_LOOPBACK_ONLY, METRICS_TOKEN_REQUIRED } from '@lantern/auth';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { IngestMetrics } from './ingest-metrics.js';

/**
 * Serves the ingest's Prometheus text at `GET /metrics` on INGEST_METRICS_HOST:INGEST_METRICS_PORT
 * (the api's /metrics is the api's own). Same rule as the api's: METRICS_TOKEN as a bearer token
 * when set, otherwise loopback peers only — and it listens on 127.0.0.1 unless told otherwise.
 */
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
        const access = metricsAccess(
          {
            authorization: req.headers.authorization,
            remoteAddress: req.socket.remoteAddress,
            forwarded: isForwarded(req.headers),
          },
          this.config.metricsToken,
        );
        if (access !== 'allowed') {
          const unauthorized = access === 'unauthorized';
          res
            .writeHead(unauthorized ? 401 : 403, {
              'content-type': 'text/plain',
              ...(unauthorized && { 'www-authenticate': 'Bearer realm="lantern-metrics"' }),
            })
            .end(`${unauthorized ? METRICS_TOKEN_REQUIRED : METRICS_LOOPBACK_ONLY}\n`);
          return;
        }
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
      server.listen(this.config.ingestMetricsPort, this.config.ingestMetricsHost, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = this.config.ingestMetricsHost.includes(':')
      ? `[${this.config.ingestMetricsHost}]`
      : this.config.ingestMetricsHost;
    this.logger.log(
      `Ingest metrics on http://${host}:${port}/metrics${this.config.metricsToken === undefined ? ' (loopback clients only)' : ' (METRICS_TOKEN required)'}`,
    );
    return port;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
