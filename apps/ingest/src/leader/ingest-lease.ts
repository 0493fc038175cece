import { Logger } from '@nestjs/common';
import type { LanternConfig } from '@lantern/config';
import { createDataSource, IngestInstanceRepository, LeaseRepository, migrateAsOwner } from '@lantern/storage';
import { newIngestInstanceId } from '../health/ingest-heartbeat.service.js';

/** The lease name of an ingest session: one consumer per MQTT client id. */
export const ingestLeaseName = (clientId: string): string => `ingest-session:${clientId}`;

/**
 * Who consumes an ingest session (INGEST_MQTT_CLIENT_ID): the holder of its lease in PostgreSQL
 * (`leases`, an existing engine's row lock rather than home-made consensus). A process waits as a
 * standby — writing standby heartbeats so /health lists it — until the lease is free or expired,
 * then boots the ingest, which resumes the same persistent MQTT session, and renews the lease every
 * TTL/5 on its own connection (a stuck application pool cannot cost it the lease). A leader that
 * cannot renew for TTL less one renewal, or finds the lease taken, steps down by exiting: the broker
 * redelivers what it had not acknowledged to the next leader, and its supervisor restarts it as a
 * standby. The broker itself fences a late leader: a second CONNECT with the same client id takes
 * the session over and closes the first.
 */
export class IngestLease {
  private readonly logger = new Logger('IngestLease');
  private readonly dataSource;
  private readonly leases;
  private readonly instances;
  private readonly name: string;
  private readonly holder = newIngestInstanceId();
  private readonly startedAt = Date.now();
  private renewTimer: NodeJS.Timeout | undefined;
  private lastRenewed = 0;
  private stopped = false;

  constructor(private readonly config: LanternConfig) {
    if (!config.databaseUrl)
      throw new Error('DATABASE_URL is not set (the embedded database sets it before the ingest starts)');
    this.dataSource = createDataSource({
      url: config.databaseUrl,
      poolSize: 1,
      applicationName: 'lantern-ingest-lease',
    });
    this.leases = new LeaseRepository(this.dataSource);
    this.instances = new IngestInstanceRepository(this.dataSource);
    this.name = ingestLeaseName(config.ingestMqttClientId);
  }

  private get renewEveryMs(): number {
    return Math.max(200, Math.floor(this.config.ingestLeaseTtlMs / 5));
  }

  /** Resolves once this process holds the lease (a standby meanwhile). */
  async acquire(): Promise<void> {
    // A database that is down is waited for here, as a standby would: exiting would only make the
    // supervisor restart us again and again (and give up after a few quick failures).
    for (let attempt = 0; !this.dataSource.isInitialized; attempt++) {
      if (this.stopped) throw new Error('stopped while waiting for the database');
      try {
        await this.dataSource.initialize();
        await migrateAsOwner(this.dataSource, this.config.databaseMigrationUrl);
      } catch (error) {
        if (this.dataSource.isInitialized) await this.dataSource.destroy().catch(() => undefined);
        if (attempt % 30 === 0) this.logger.warn(`Database not reachable yet (waiting): ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    let announced = false;
    for (;;) {
      if (this.stopped) throw new Error('stopped while waiting for the ingest lease');
      try {
        if (await this.leases.tryAcquire(this.name, this.holder, this.config.ingestLeaseTtlMs)) break;
        if (!announced) this.logger.log(`Standby: ${this.name} is held by another ingest; waiting to take over`);
        announced = true;
        await this.instances.heartbeat(
          {
            instanceId: this.holder,
            clientId: this.config.ingestMqttClientId,
            role: 'standby',
            startedAt: this.startedAt,
          },
          {},
        );
      } catch (error) {
        this.logger.warn(`Ingest lease not checked: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.renewEveryMs));
    }
    this.lastRenewed = Date.now();
    if (announced) {
      await this.instances.markStopped(this.holder).catch(() => undefined);
      this.logger.log(`Took over ${this.name}: resuming the session`);
    }
  }

  /** Renews the lease until `stop`; calls `onLost` (once) when it is lost or cannot be renewed in time. */
  keep(onLost: (reason: string) => void): void {
    const renew = async (): Promise<void> => {
      let reason: string | undefined;
      try {
        if (await this.leases.tryAcquire(this.name, this.holder, this.config.ingestLeaseTtlMs))
          this.lastRenewed = Date.now();
        else reason = 'another ingest holds the lease';
      } catch (error) {
        if (Date.now() - this.lastRenewed > this.config.ingestLeaseTtlMs - this.renewEveryMs)
          reason = `the lease could not be renewed for ${Date.now() - this.lastRenewed} ms (${(error as Error).message})`;
      }
      if (reason !== undefined && !this.stopped) {
        this.stopTimer();
        onLost(reason);
      }
    };
    this.renewTimer = setInterval(() => void renew(), this.renewEveryMs);
  }

  /** Releases the lease (an orderly stop: a standby takes over at once) and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer();
    if (!this.dataSource.isInitialized) return;
    await this.leases.release(this.name, this.holder).catch(() => undefined);
    await this.dataSource.destroy().catch(() => undefined);
  }

  private stopTimer(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }
}
