import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { ServiceMqttClient } from '@lantern/messaging';
import { API_BROKER } from '../broker/api-broker.tokens.js';
import type { HealthDto, IngestHealthDto } from './health.controller.js';
import { EscalationHealth } from '../escalation/escalation-health.js';
import { IngestMonitorService } from './ingest-monitor.service.js';

const DATABASE_TIMEOUT_MS = 2000;

/** Whether the whole monitoring chain works: database, broker, and (unless not required) the ingest. */
@Injectable()
export class SystemHealthService {
  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly db: DataSource,
    // The api's one connection: the one that carries live events and announcements.
    @Inject(API_BROKER) private readonly broker: ServiceMqttClient,
    private readonly ingestMonitor: IngestMonitorService,
    private readonly escalation: EscalationHealth,
  ) {}

  async check(): Promise<HealthDto> {
    const [database, ingest, deliveries] = await Promise.all([
      withTimeout(this.db.query('SELECT 1')).then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      this.config.healthRequireIngest ? this.ingest() : Promise.resolve(undefined),
      withTimeout(this.escalation.check()).catch(() => ({
        status: 'down' as const,
        problems: ['Whether people are being told about alerts cannot be read (database unavailable).'],
      })),
    ]);
    const broker = this.broker.connected ? 'up' : 'down';
    // A channel failing (degraded) is reported but does not fail readiness: other channels still reach people.
    const ok =
      database === 'up' &&
      broker === 'up' &&
      (ingest === undefined || ingest.status === 'up') &&
      deliveries.status !== 'down';
    return { status: ok ? 'ok' : 'unavailable', database, broker, ...(ingest ? { ingest } : {}), deliveries };
  }

  private async ingest(): Promise<IngestHealthDto> {
    try {
      const verdict = await withTimeout(this.ingestMonitor.check());
      return {
        status: verdict.status,
        problems: [...verdict.problems],
        instances: verdict.instances.map((i) => ({
          ...i,
          subscribed: [...i.subscribed],
          retryingWriters: [...i.retryingWriters],
        })),
      };
    } catch {
      return { status: 'unknown', problems: ['the ingest state cannot be read (database unavailable)'], instances: [] };
    }
  }
}

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), DATABASE_TIMEOUT_MS).unref()),
  ]);
}
