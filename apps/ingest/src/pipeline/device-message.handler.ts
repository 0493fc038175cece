import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { Reading } from '@lantern/domain';
import { decodeStatus, decodeTelemetry, type Rejection } from '@lantern/messaging';
import type { DeviceStatusUpdate } from '@lantern/storage';
import type { InboundMessage } from '../consumer/inbound-message.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import type { DeadLetters } from './dead-letters.js';
import { DevicePresenceService } from './device-presence.service.js';
import type { DeviceLookup } from './device-registry.service.js';
import { IngestOutputs } from './ingest-outputs.js';
import { ReadingAdmission } from './reading-admission.js';
import { ReadingStream } from './reading.stream.js';
import type { RetryingBatchWriter } from './retrying-batch-writer.js';

/**
 * One message of a looked-up device, from payload to hand-offs: refused if the device is not
 * registered and active, decoded (libs/messaging codecs), its readings admitted (ReadingAdmission),
 * then fed to the streaming core at once and queued for storage, its refusals dead-lettered, the
 * device's presence updated. Seals the message whatever happens: it never stays unacknowledged.
 */
@Injectable()
export class DeviceMessageHandler {
  // The pipeline's context: the handler logs on its behalf.
  private readonly logger = new Logger('IngestPipeline');
  // Per-device admission of decoded readings (metric of the device type, minimum interval).
  private readonly admission = new ReadingAdmission();

  // Where an accepted reading or status is stored: its batch writer holds the message until it commits.
  private readonly readings: RetryingBatchWriter<Reading>;
  private readonly statuses: RetryingBatchWriter<DeviceStatusUpdate>;
  private readonly deadLetters: DeadLetters;

  /** An accepted reading or status also goes to the streaming core at once (`stream`), which holds the message too. */
  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly stream: ReadingStream,
    outputs: IngestOutputs,
    private readonly presence: DevicePresenceService,
    private readonly metrics: IngestMetrics,
  ) {
    this.readings = outputs.writers.readings;
    this.statuses = outputs.writers.statuses;
    this.deadLetters = outputs.deadLetters;
  }

  /** A decommissioned device sends nothing that reaches admission again: drop its state. */
  forget(deviceId: string): void {
    this.admission.forget(deviceId);
  }

  handle(message: InboundMessage, deviceId: string, kind: 'telemetry' | 'status', lookup: DeviceLookup): void {
    try {
      if (lookup.kind !== 'known' || lookup.device.decommissioned) {
        const rejection: Rejection =
          lookup.kind === 'invalid'
            ? { code: 'invalid_device_id', reason: 'device id in the topic is not a canonical (lowercase) UUID' }
            : lookup.kind === 'unknown'
              ? { code: 'unknown_device', reason: 'unknown device' }
              : { code: 'decommissioned_device', reason: 'device is decommissioned' };
        this.deadLetters.add(message, deviceId, undefined, [rejection]);
        return;
      }
      const device = lookup.device;
      const receivedAt = message.receivedAt;
      const ctx = { receivedAt, maxBackfillMs: this.config.ingestMaxBackfill, deviceId };
      if (kind === 'telemetry') {
        const decoded = decodeTelemetry(message.payload, ctx);
        const admitted = this.admission.admit(device, decoded);
        const seq = decoded.seq;
        for (const r of admitted.readings) {
          // Two plain literals rather than a conditional spread: this runs for every reading.
          const reading: Reading =
            seq === undefined
              ? { deviceId, patientId: device.patientId, metric: r.metric, value: r.value, time: r.time, receivedAt }
              : {
                  deviceId,
                  patientId: device.patientId,
                  metric: r.metric,
                  value: r.value,
                  time: r.time,
                  receivedAt,
                  seq,
                };
          // The streaming core holds the message until the alert transitions this reading causes are stored.
          this.stream.emitReading(reading, message.pending);
          this.readings.add(reading, message.pending);
        }
        this.metrics.readingsAcceptedBy(admitted.readings.length);
        if (admitted.rejections.length > 0) this.deadLetters.add(message, deviceId, decoded.seq, admitted.rejections);
        this.presence.heardFrom(device, message.receivedAt);
      } else {
        const decoded = decodeStatus(message.payload, ctx);
        if (!decoded.ok) {
          this.deadLetters.add(message, deviceId, undefined, [decoded.rejection]);
          return;
        }
        const s = decoded.status;
        this.stream.emitStatus({ deviceId, patientId: device.patientId, ...s }, message.pending);
        this.statuses.add(
          { deviceId, ...(s.online === false ? {} : { seenAt: message.receivedAt }), ...withoutTime(s) },
          message.pending,
        );
        this.presence.statusReceived(device, s, message.receivedAt);
      }
    } catch (error) {
      // A bug, not bad input: keep the message unacknowledged... but never stall the others.
      this.logger.error(`Unexpected failure on ${message.topic}: ${(error as Error).stack ?? String(error)}`);
      this.deadLetters.add(message, deviceId, undefined, [
        { code: 'invalid_message', reason: 'internal error while processing the message' },
      ]);
    } finally {
      message.pending.seal();
    }
  }
}

function withoutTime<T extends { time: number }>(value: T): Omit<T, 'time'> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- `time` is bound only to leave it out of `rest`
  const { time: _time, ...rest } = value;
  return rest;
}
