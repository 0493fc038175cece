import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { AlertResource } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { DeviceRepository } from '@lantern/storage';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from '../ingest/ingest-fixture.js';
import { AlertStreamingService } from '../../apps/ingest/src/alerting/alert-streaming.service.js';
import { RuleOverrideSync } from '../../apps/ingest/src/alerting/rule-override-sync.js';
import { StreamingCore } from '../../apps/ingest/src/alerting/streaming-core.js';
import { AlertOutputWriter } from '../../apps/ingest/src/alerting/alert-output.writer.js';
import { DeviceRegistryService } from '../../apps/ingest/src/pipeline/device-registry.service.js';

const MIN = 60_000;

interface AlertRow {
  patient: string;
  device: string;
  rule: string;
  state: string;
  resolved_by: string | null;
  resolve_note: string | null;
}

describe('streaming core in step with the database: decommissioned and reassigned devices, overrides', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let client: MqttClient;
  let topics: Topics;
  let service: AlertStreamingService;
  let core: StreamingCore;
  let rules: RuleOverrideSync;
  let writer: AlertOutputWriter;
  let registry: DeviceRegistryService;
  /** Decommissioned while it is silent and its signal-loss alert is open. */
  let retired: SeededDevice;
  /** Decommissioned before it falls silent. */
  let early: SeededDevice;
  /** Moved to another patient while its signal-loss alert is open. */
  let moved: SeededDevice;
  let newPatient: string;
  const alertEvents: AlertResource[] = [];

  beforeAll(async () => {
    rig = await startIngestRig('alert-sync');
    ({ db, topics } = rig);
    retired = await rig.data.patientWithDevice('cgm');
    early = await rig.data.patientWithDevice('cgm');
    moved = await rig.data.patientWithDevice('cgm');
    newPatient = await rig.data.patient('New Owner');
    // Sweeps are driven by the test with its own clock.
    ingest = await startIngest(rig.env({ SIGNAL_LOSS_SWEEP_MS: '600000' }));
    service = ingest.get(AlertStreamingService);
    core = ingest.get(StreamingCore);
    rules = ingest.get(RuleOverrideSync);
    writer = ingest.get(AlertOutputWriter);
    registry = ingest.get(DeviceRegistryService);
    client = await rig.observe(alertEvents);
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const deviceAlerts = (deviceId: string): Promise<AlertRow[]> =>
    db.dataSource.query(
      `SELECT patient_id::text AS patient, device_id::text AS device, rule, state, resolved_by::text, resolve_note
         FROM alerts WHERE device_id = $1 ORDER BY opened_at`,
      [deviceId],
    );

  it('a device decommissioned before it falls silent raises no signal-loss alert', async () => {
    // One normal glucose reading each: all three devices have been heard from.
    for (const d of [retired, early, moved]) {
      await client.publishAsync(
        topics.telemetry(d.id),
        JSON.stringify({ ts: new Date().toISOString(), readings: [{ metric: 'glucose', value: 110 }] }),
        { qos: 1 },
      );
    }
    await waitFor(() => (service.evaluated >= 3 ? true : undefined), 'three readings evaluated');
    expect(await new DeviceRepository(db.dataSource).decommission(early.id)).toBeDefined();
    await registry.reload();

    const lost = service.sweep(Date.now() + 21 * MIN);
    expect(
      lost.transitions
        .filter((t) => t.kind === 'opened')
        .map((t) => t.alert.deviceId)
        .sort(),
    ).toEqual([retired.id, moved.id].sort());
    await writer.drained();
    expect(await deviceAlerts(early.id)).toEqual([]);
    expect((await deviceAlerts(retired.id)).map((a) => `${a.rule} ${a.state}`)).toEqual(['device.signal_loss open']);
  });

  it('decommissioning resolves the open signal-loss alert by the system; reassigning resolves the old patient’s', async () => {
    await new DeviceRepository(db.dataSource).decommission(retired.id);
    await db.dataSource.query(`UPDATE devices SET patient_id = $2 WHERE id = $1`, [moved.id, newPatient]);
    await registry.reload();
    await writer.drained();

    expect(await deviceAlerts(retired.id)).toEqual([
      {
        patient: retired.patientId,
        device: retired.id,
        rule: 'device.signal_loss',
        state: 'resolved',
        resolved_by: null,
        resolve_note: 'device decommissioned',
      },
    ]);
    expect(await deviceAlerts(moved.id)).toEqual([
      {
        patient: moved.patientId,
        device: moved.id,
        rule: 'device.signal_loss',
        state: 'resolved',
        resolved_by: null,
        resolve_note: 'device reassigned',
      },
    ]);
    const resolved = await waitFor(() => {
      const events = alertEvents.filter((a) => a.state === 'resolved');
      return events.length >= 2 ? events : undefined;
    }, 'two resolved events');
    expect(resolved.map((a) => a.deviceId).sort()).toEqual([retired.id, moved.id].sort());

    // The next reload changes nothing more.
    await registry.reload();
    await writer.drained();
    expect(alertEvents.filter((a) => a.state === 'resolved')).toHaveLength(2);
  });

  it('after the sync, a sweep raises no signal loss for decommissioned devices; the moved device’s is its new patient’s', async () => {
    const later = service.sweep(Date.now() + 60 * MIN);
    expect(later.transitions.map((t) => `${t.kind} ${t.alert.rule} ${t.alert.deviceId} ${t.alert.patientId}`)).toEqual([
      `opened device.signal_loss ${moved.id} ${newPatient}`,
    ]);
    expect(later.notifications.map((n) => n.patientId)).toEqual([newPatient]);
    await writer.drained();
    const [{ active }] = await db.dataSource.query<{ active: number }[]>(
      `SELECT count(*)::int AS active FROM alerts WHERE device_id = ANY($1::uuid[]) AND state <> 'resolved'`,
      [[retired.id, early.id]],
    );
    expect(active).toBe(0);
  });

  describe('a rules-changed message that never arrived', () => {
    let ruled: SeededDevice;
    const glucoseLow = (): { enabled: boolean; threshold: number } => {
      const rule = core.engine.rulesOf(ruled.patientId).find((r) => r.key === 'glucose.low')!;
      return { enabled: rule.enabled, threshold: (rule.params as { threshold: number }).threshold };
    };

    beforeAll(async () => {
      ruled = await rig.data.patientWithDevice('cgm');
    });

    it('an override written without publishing applies at the next re-read, and only once', async () => {
      await db.dataSource.query(
        `INSERT INTO alert_rule_overrides (patient_id, rule_key, enabled, params) VALUES ($1, 'glucose.low', true, '{"threshold": 80}')`,
        [ruled.patientId],
      );
      expect(glucoseLow()).toEqual({ enabled: true, threshold: 70 });
      expect(await rules.resyncRules()).toBe(1);
      expect(glucoseLow()).toEqual({ enabled: true, threshold: 80 });
      // Nothing changed since: nothing is re-applied.
      expect(await rules.resyncRules()).toBe(0);

      // The new threshold is live: 75 is low now.
      await client.publishAsync(
        topics.telemetry(ruled.id),
        JSON.stringify({ ts: new Date().toISOString(), readings: [{ metric: 'glucose', value: 75 }] }),
        { qos: 1 },
      );
      const opened = await waitFor(
        () => alertEvents.find((a) => a.patientId === ruled.patientId && a.state === 'open'),
        'glucose.low opened at 75',
      );
      expect(opened).toMatchObject({ rule: 'glucose.low', value: 75 });
    });

    it('disabling a rule in the database resolves its alert once; removing the override restores the default', async () => {
      await writer.drained();
      await db.dataSource.query(
        `UPDATE alert_rule_overrides SET enabled = false, updated_at = now() WHERE patient_id = $1 AND rule_key = 'glucose.low'`,
        [ruled.patientId],
      );
      expect(await rules.resyncRules()).toBe(1);
      expect(await rules.resyncRules()).toBe(0);
      await writer.drained();
      const rows = await db.dataSource.query<{ state: string; resolve_note: string | null }[]>(
        `SELECT state, resolve_note FROM alerts WHERE patient_id = $1`,
        [ruled.patientId],
      );
      expect(rows).toEqual([{ state: 'resolved', resolve_note: 'rule disabled' }]);
      const resolved = await waitFor(() => {
        const events = alertEvents.filter((a) => a.patientId === ruled.patientId && a.state === 'resolved');
        return events.length > 0 ? events : undefined;
      }, 'resolved event');
      expect(resolved).toHaveLength(1);
      expect(glucoseLow().enabled).toBe(false);

      await db.dataSource.query(`DELETE FROM alert_rule_overrides WHERE patient_id = $1`, [ruled.patientId]);
      expect(await rules.resyncRules()).toBe(1);
      expect(glucoseLow()).toEqual({ enabled: true, threshold: 70 });
      expect(await rules.resyncRules()).toBe(0);
    });
  });
});
