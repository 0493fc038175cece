/**
 * The REFERENCE pipeline: the least a correct ingest has to do, hand-written on mqtt.js and pg with
 * nothing else — parse, look the device's patient up, batch, commit with the fastest idempotent
 * insert (INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING), acknowledge after the commit. No
 * validation beyond "a finite number for a known metric", no alerting, no rollups, no dead letters;
 * its table has the same key and per-patient index as Lantern's \`readings\`.
 * Lantern's sustained rate is reported as a ratio to this one's, on the same broker and database.
 *
 * Acknowledge-after-commit without serializing the connection (mqtt.js reads the next packet only
 * after the current one's ack callback): PUBACK packets are intercepted and held in arrival order,
 * the callback returns at once so reading goes on, and the held PUBACKs are sent when their batch
 * has committed (MQTT requires QoS 1 PUBACKs in PUBLISH order, which a FIFO keeps).
 *
 * Runs as its own process: node dist/bench/bench/src/reference-pipeline.js <mqttUrl> <databaseUrl> <topicRoot>
 */
import mqtt from 'mqtt';
import pg from 'pg';
import { parseDeviceTopic, topicsFor } from '@lantern/messaging/contract';

const METRICS = new Set([
  'heart_rate',
  'spo2',
  'glucose',
  'systolic_bp',
  'diastolic_bp',
  'respiratory_rate',
  'body_temperature',
  'body_weight',
  'pa_pressure_mean',
  'steps',
]);
const BATCH_MAX = 5000;
const BATCH_WAIT_MS = 20;
const DAY = 86_400_000;

interface Pending {
  deviceIds: string[];
  metrics: string[];
  times: Date[];
  patientIds: string[];
  values: number[];
  acks: { packet: unknown; send: () => void }[];
}

async function main(): Promise<void> {
  const [mqttUrl, databaseUrl, root = 'lantern/v1'] = process.argv.slice(2);
  if (!mqttUrl || !databaseUrl) throw new Error('usage: reference-pipeline <mqttUrl> <databaseUrl> [topicRoot]');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'bench-reference' });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS bench_reference_readings (
      device_id uuid NOT NULL, metric text NOT NULL, time timestamptz NOT NULL,
      patient_id uuid NOT NULL, value double precision NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (device_id, metric, time)
    ) PARTITION BY RANGE (time)`);
  // The same table shape as Lantern's \`readings\`: its key and the per-patient index every history
  // query needs (a storage requirement, not a pipeline choice), so the ratio compares pipelines.
  await pool.query(
    `CREATE INDEX IF NOT EXISTS bench_reference_readings_patient_idx ON bench_reference_readings (patient_id, metric, time)`,
  );
  const today = Math.floor(Date.now() / DAY) * DAY;
  for (let d = -2; d <= 2; d++) {
    const from = new Date(today + d * DAY);
    const to = new Date(today + (d + 1) * DAY);
    const name = `bench_reference_readings_${from.toISOString().slice(0, 10).replaceAll('-', '')}`;
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF bench_reference_readings FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
    );
  }
  const patients = new Map<string, string>();
  for (const row of (await pool.query<{ id: string; patient_id: string }>(`SELECT id, patient_id FROM devices`)).rows)
    patients.set(row.id, row.patient_id);

  let pending = emptyBatch();
  let committing = false;
  let timer: NodeJS.Timeout | undefined;
  let stored = 0;
  let acked = 0;
  let dropped = 0;

  const flush = async (): Promise<void> => {
    if (committing || pending.acks.length === 0) return;
    clearTimeout(timer);
    timer = undefined;
    committing = true;
    const batch = pending;
    pending = emptyBatch();
    try {
      const result = await pool.query(
        `INSERT INTO bench_reference_readings (device_id, metric, time, patient_id, value)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::float8[])
         ON CONFLICT DO NOTHING`,
        [batch.deviceIds, batch.metrics, batch.times, batch.patientIds, batch.values],
      );
      stored += result.rowCount ?? 0;
      for (const ack of batch.acks) ack.send();
      acked += batch.acks.length;
    } catch (error) {
      // Not acknowledged: the broker redelivers after a reconnect. The reference just reports it.
      process.stderr.write(`reference: commit failed: ${(error as Error).message}\n`);
    } finally {
      committing = false;
    }
    if (pending.acks.length >= BATCH_MAX) void flush();
    else if (pending.acks.length > 0) schedule();
  };
  // A fired timer must be forgotten, or `timer ??=` would never schedule again.
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      void flush();
    }, BATCH_WAIT_MS);
  };

  const client = mqtt.connect(mqttUrl, {
    clientId: 'bench-reference',
    protocolVersion: 5,
    clean: false,
    // Session ends at disconnect: once the reference is stopped the broker must not queue the Lantern phase's traffic for it.
    properties: { sessionExpiryInterval: 0, receiveMaximum: 65535 },
    keepalive: 60,
    reconnectPeriod: 1000,
  });
  // Hold PUBACKs (see the header). mqtt.js calls handleMessage right after the 'message' event and
  // sends the PUBACK synchronously from its callback, so the flag marks exactly that PUBACK.
  const internal = client as unknown as {
    _sendPacket: (packet: { cmd: string }, cb?: () => void) => void;
    handleMessage: (packet: unknown, callback: (error?: Error) => void) => void;
  };
  const sendPacket = internal._sendPacket.bind(client);
  let holdNext = false;
  internal.handleMessage = (_packet, callback) => {
    holdNext = true;
    try {
      callback();
    } finally {
      holdNext = false;
    }
  };
  internal._sendPacket = (packet, cb) => {
    if (packet.cmd !== 'puback' || !holdNext) return sendPacket(packet, cb);
    pending.acks.push({ packet, send: () => sendPacket(packet) });
    // Returning at once lets mqtt.js read the next packet while this one waits for its commit.
    cb?.();
    if (pending.acks.length >= BATCH_MAX) void flush();
    else schedule();
  };
  client.on('message', (topic, payload) => {
    const deviceId = parseDeviceTopic(root, topic)?.deviceId ?? '';
    const patientId = patients.get(deviceId);
    if (!patientId) {
      dropped++;
      return;
    }
    try {
      const message = JSON.parse(payload.toString('utf8')) as {
        ts?: string | number;
        readings?: { metric: string; value: number; ts?: string | number }[];
      };
      for (const r of message.readings ?? []) {
        if (!METRICS.has(r.metric) || typeof r.value !== 'number' || !Number.isFinite(r.value)) continue;
        const time = new Date(r.ts ?? message.ts ?? Date.now());
        if (Number.isNaN(time.getTime())) continue;
        pending.deviceIds.push(deviceId);
        pending.metrics.push(r.metric);
        pending.times.push(time);
        pending.patientIds.push(patientId);
        pending.values.push(r.value);
      }
    } catch {
      dropped++;
    }
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', (connack) => {
      if (connack.sessionPresent) return resolve();
      client.subscribe(topicsFor(root).allTelemetry, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
    });
    client.once('error', reject);
  });
  process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
  setInterval(
    () =>
      process.stdout.write(
        `${JSON.stringify({ type: 'stats', stored, acked, dropped, rss: process.memoryUsage.rss() })}\n`,
      ),
    1000,
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void client.endAsync().finally(() => pool.end().finally(() => process.exit(0)));
    });
  }
}

function emptyBatch(): Pending {
  return { deviceIds: [], metrics: [], times: [], patientIds: [], values: [], acks: [] };
}

main().catch((error: unknown) => {
  process.stderr.write(`reference: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
