import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import type { AlertResource, PatientNotificationResource } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { buildIngest, spawnIngest, type SeededDevice, type SpawnedIngest } from '../ingest/ingest-fixture.js';
import { useSpecGlucoseRules } from '../support/spec-glucose-rules.js';

const MIN = 60_000;

/**
 * At least once, exactly once to people: the ingest is killed with SIGKILL in the window between a
 * reading's commit and its alert's (or the other way round), made deterministic by a table lock the
 * test holds; the restarted ingest must store the alert once and notify once.
 */
describe('alerts after a kill -9 of the ingest: at least once, notified once', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let device: MqttClient;
  let topics: Topics;
  let env: Record<string, string>;
  const running: SpawnedIngest[] = [];
  const alertEvents: AlertResource[] = [];
  const notifications: PatientNotificationResource[] = [];

  beforeAll(async () => {
    buildIngest();
    rig = await startIngestRig('alert-crash');
    ({ db, topics } = rig);
    // The next ingest takes the session over soon after the kill; sweeps stay out of the way.
    env = rig.env({ INGEST_LEASE_TTL: '2s', SIGNAL_LOSS_SWEEP_MS: '600000' });
    await rig.observe(alertEvents, notifications);
    device = await rig.connect();
  }, 180_000);

  afterAll(async () => {
    await rig?.close(running);
  });

  // A failed test must not leave its ingest holding the session's lease for the next one.
  afterEach(async () => {
    for (const ingest of running.splice(0))
      if (ingest.child.exitCode === null && ingest.child.signalCode === null) await kill(ingest);
  });

  async function start(): Promise<SpawnedIngest> {
    const ingest = spawnIngest(env);
    running.push(ingest);
    await waitFor(() => /Ingest running/.test(ingest.output()), 'the ingest to run', 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; it said:\n${ingest.output()}`);
    });
    return ingest;
  }

  /** kill -9, then ends the dead process's database sessions, so that no statement of it waiting on the lock commits later. */
  async function kill(ingest: SpawnedIngest): Promise<void> {
    ingest.child.kill('SIGKILL');
    await ingest.exited();
    await db.dataSource.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'lantern-ingest%'`,
    );
  }

  /** Holds `LOCK TABLE … IN EXCLUSIVE MODE` (reads go on, writes wait) until released. */
  async function lockTable(table: 'alerts' | 'readings'): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
    return {
      async release() {
        await client.query('ROLLBACK');
        await client.end();
      },
    };
  }

  /** Statements of the ingest waiting on a lock: proof that the write under test was attempted and blocked. */
  const waitingOnLock = async (): Promise<number> =>
    (
      await db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'lantern-ingest%' AND wait_event_type = 'Lock'`,
      )
    )[0].n;

  const count = async (sql: string, params: unknown[]): Promise<number> =>
    (await db.dataSource.query<{ n: number }[]>(sql, params))[0].n;

  async function publish(deviceId: string, metric: string, value: number, ts: number): Promise<void> {
    await device.publishAsync(
      topics.telemetry(deviceId),
      JSON.stringify({ ts: new Date(ts).toISOString(), readings: [{ metric, value }] }),
      { qos: 1 },
    );
  }

  it('an alert not stored when its reading was: raised after the restart, stored once, notified once', async () => {
    const cgm: SeededDevice = await rig.data.patientWithDevice('cgm');
    // Written against spec §4's glucose parameters (glucose.low at once, not covered by urgent_low).
    await useSpecGlucoseRules(db.dataSource, cgm.patientId);
    const first = await start();
    const alerts = await lockTable('alerts');
    const t = Date.now() - MIN;
    await publish(cgm.id, 'glucose', 50, t);
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [cgm.id])) === 1,
      'the reading stored',
    );
    await waitFor(async () => (await waitingOnLock()) > 0, 'the alert write blocked by the lock');
    await kill(first);
    await alerts.release();
    expect(await count(`SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1`, [cgm.patientId])).toBe(0);
    expect(notifications.filter((n) => n.patientId === cgm.patientId)).toEqual([]);

    const second = await start();
    // A later reading on the same connection: once its effect is seen, the redelivered one has been handled too.
    await publish(cgm.id, 'glucose', 100, t + 5 * MIN);
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1 AND state = 'resolved'`, [
          cgm.patientId,
        ])) === 1,
      'glucose.low resolved by the later reading',
    );
    const rows = await db.dataSource.query<{ rule: string; state: string; opened: Date }[]>(
      `SELECT rule, state, opened_at AS opened FROM alerts WHERE patient_id = $1 ORDER BY rule`,
      [cgm.patientId],
    );
    expect(rows.map((r) => `${r.rule} ${r.state} ${r.opened.getTime() - t}`)).toEqual([
      'glucose.low resolved 0',
      'glucose.urgent_low open 0',
    ]);
    expect(
      await count(`SELECT count(*)::int AS n FROM patient_notifications WHERE patient_id = $1`, [cgm.patientId]),
    ).toBe(2);
    const told = await waitFor(() => {
      const mine = notifications.filter((n) => n.patientId === cgm.patientId);
      return mine.length >= 2 ? mine : undefined;
    }, 'two notifications');
    expect(told.map((n) => n.title).sort()).toEqual([
      'Your glucose (blood sugar) is low',
      'Your glucose (blood sugar) is very low',
    ]);
    expect(second.output()).toMatch(/[1-9]\d* transitions the database was missing made good/);
    await kill(second);
    expect(notifications.filter((n) => n.patientId === cgm.patientId)).toHaveLength(2);
    const opened = alertEvents.filter((a) => a.patientId === cgm.patientId && a.state === 'open' && !a.clearedAt);
    expect(opened.map((a) => a.rule).sort()).toEqual(['glucose.low', 'glucose.urgent_low']);
  }, 120_000);

  it('an alert stored and resolved before the readings were: redelivered, neither re-opened nor re-notified', async () => {
    const cuff: SeededDevice = await rig.data.patientWithDevice('bp_monitor');
    const first = await start();
    const t = Date.now() - 30 * MIN;
    // Shortly after midnight UTC, t falls on yesterday, whose partition the ingest would create
    // behind the lock below, and the test's own reads would queue behind that DDL.
    await db.dataSource.query(`SELECT lantern_ensure_reading_partition($1::date)`, [
      new Date(t).toISOString().slice(0, 10),
    ]);
    const readings = await lockTable('readings');
    await publish(cuff.id, 'systolic_bp', 85, t);
    await publish(cuff.id, 'systolic_bp', 120, t + 10 * MIN);
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1 AND state = 'resolved'`, [
          cuff.patientId,
        ])) === 1,
      'systolic_bp.low opened and resolved, stored',
    );
    await waitFor(
      () => (notifications.some((n) => n.patientId === cuff.patientId) ? true : undefined),
      'its notification published',
    );
    expect(await count(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [cuff.id])).toBe(0);
    await kill(first);
    await readings.release();

    const second = await start();
    await waitFor(
      async () => (await count(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [cuff.id])) === 2,
      'both readings redelivered and stored',
    );
    // A third reading, low again: a new episode, which must open a second alert (the rule is not stuck).
    await publish(cuff.id, 'systolic_bp', 86, t + 20 * MIN);
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1`, [cuff.patientId])) === 2
          ? true
          : undefined,
      'the new episode opened',
    );
    // Its notification is published just after the statement that stored it: wait for it before the kill.
    await waitFor(
      () => notifications.filter((n) => n.patientId === cuff.patientId).length >= 2 || undefined,
      'the new episode notified',
    );
    await kill(second);
    const rows = await db.dataSource.query<{ state: string; opened: Date }[]>(
      `SELECT state, opened_at AS opened FROM alerts WHERE patient_id = $1 ORDER BY opened_at`,
      [cuff.patientId],
    );
    expect(rows.map((r) => `${r.state} ${(r.opened.getTime() - t) / MIN}`)).toEqual(['resolved 0', 'open 20']);
    expect(
      await count(`SELECT count(*)::int AS n FROM patient_notifications WHERE patient_id = $1`, [cuff.patientId]),
    ).toBe(2);
    const mine = notifications.filter((n) => n.patientId === cuff.patientId);
    expect(mine).toHaveLength(2);
    expect(new Set(mine.map((n) => n.alertId)).size).toBe(2);
    const events = alertEvents.filter((a) => a.patientId === cuff.patientId).map((a) => `${a.state} ${a.id}`);
    expect(events).toEqual([...new Set(events)]);
  }, 120_000);
});
