import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A writer of the ingest whose writes keep failing (and being retried). */
export interface RetryingWriterState {
  readonly writer: string;
  /** How long it has been failing, in ms, when the heartbeat was taken. */
  readonly failingForMs: number;
  readonly attempts: number;
}

/**
 * What an ingest instance reports about itself with each heartbeat (docs/reliability.md). Times are
 * ages in ms at the heartbeat, measured on the ingest's own clock: the reader adds the time since
 * the heartbeat on the database's clock, so no clock of two hosts is ever compared.
 */
export interface IngestInstanceState {
  readonly connected: boolean;
  /** How long the connection it publishes events on has been down (0 while it is up). */
  readonly notPublishingForMs: number;
  /** Filters its MQTT session is subscribed to, as granted by the broker. */
  readonly subscribed: readonly string[];
  /** How long it has not been connected with every filter granted (0 while it is). */
  readonly notConsumingForMs: number;
  /** Since the last message consumed from the broker (device or canary); null: none yet. */
  readonly lastMessageAgeMs: number | null;
  /** Since the last canary made the round trip ingest → broker → ingest, or since the canary started. */
  readonly canaryAgeMs: number;
  /** Round trip of the last canary; null: none yet. */
  readonly canaryRoundTripMs: number | null;
  /** Age of the oldest message received and not yet acknowledged (0: none). */
  readonly oldestUnackedMs: number;
  readonly pendingMessages: number;
  /** Reading from the broker is paused: too many messages unfinished (INGEST_MAX_PENDING_MESSAGES). */
  readonly paused: boolean;
  readonly retryingWriters: readonly RetryingWriterState[];
}

export type IngestRole = 'leader' | 'standby';

export interface IngestInstanceRecord {
  readonly instanceId: string;
  readonly clientId: string;
  readonly role: IngestRole;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly state: Partial<IngestInstanceState>;
}

interface InstanceRow {
  instance_id: string;
  client_id: string;
  role: IngestRole;
  started_at: Date;
  heartbeat_at: Date;
  state: Partial<IngestInstanceState>;
}

/**
 * `ingest_sessions` (the filter set each ingest client id's MQTT session holds at the broker) and
 * `ingest_instances` (each ingest process's heartbeat and report, leader or standby).
 */
@Injectable()
export class IngestInstanceRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The filters the persistent session of `clientId` was last subscribed to ([] when never). */
  async filtersOf(clientId: string): Promise<string[]> {
    const rows: { filters: string[] }[] = await this.dataSource.query(
      `SELECT filters FROM ingest_sessions WHERE client_id = $1`,
      [clientId],
    );
    return rows[0]?.filters ?? [];
  }

  /** Records the filter set the session of `clientId` now holds. */
  async recordFilters(clientId: string, filters: readonly string[]): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO ingest_sessions (client_id, filters) VALUES ($1, $2)
       ON CONFLICT (client_id) DO UPDATE SET filters = EXCLUDED.filters`,
      [clientId, filters],
    );
  }

  /** Stores an instance's heartbeat and state, stamped by the database's clock (the api judges by it). */
  async heartbeat(
    instance: {
      readonly instanceId: string;
      readonly clientId: string;
      readonly role: IngestRole;
      readonly startedAt: number;
    },
    state: Partial<IngestInstanceState>,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO ingest_instances (instance_id, client_id, role, started_at, heartbeat_at, state)
       VALUES ($1, $2, $3, $4, now(), $5)
       ON CONFLICT (instance_id) DO UPDATE
         SET client_id = EXCLUDED.client_id, role = EXCLUDED.role, heartbeat_at = now(), stopped_at = NULL, state = EXCLUDED.state`,
      [instance.instanceId, instance.clientId, instance.role, new Date(instance.startedAt), JSON.stringify(state)],
    );
  }

  /** An orderly stop: the instance is not expected to beat any more. */
  async markStopped(instanceId: string): Promise<void> {
    await this.dataSource.query(`UPDATE ingest_instances SET stopped_at = now() WHERE instance_id = $1`, [instanceId]);
  }

  /**
   * Instances that beat within the last `withinMs` and were not stopped in order since, with the
   * database's clock as `now`: heartbeats are stamped by it, so clock skew between hosts cannot matter.
   * Rows older than that are deleted on the way (crashed instances are not kept for ever).
   */
  async recent(withinMs: number): Promise<{ now: number; instances: IngestInstanceRecord[] }> {
    const rows: (Partial<InstanceRow> & { now: Date })[] = await this.dataSource.query(
      `WITH forgotten AS (
         DELETE FROM ingest_instances
          WHERE heartbeat_at < now() - make_interval(secs => $1::double precision / 1000) * 10)
       SELECT n.now, i.instance_id, i.client_id, i.role, i.started_at, i.heartbeat_at, i.state
         FROM (SELECT now() AS now) n
         LEFT JOIN ingest_instances i
           ON i.heartbeat_at > n.now - make_interval(secs => $1::double precision / 1000)
          AND (i.stopped_at IS NULL OR i.stopped_at < i.heartbeat_at)
        ORDER BY i.heartbeat_at DESC`,
      [withinMs],
    );
    const instances: IngestInstanceRecord[] = [];
    for (const r of rows) {
      if (!r.instance_id) continue;
      instances.push({
        instanceId: r.instance_id,
        clientId: r.client_id!,
        role: r.role!,
        startedAt: r.started_at!.getTime(),
        heartbeatAt: r.heartbeat_at!.getTime(),
        state: r.state ?? {},
      });
    }
    return { now: rows[0].now.getTime(), instances };
  }
}
