import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { METRICS, type LiveReadingEvent } from '@lantern/domain';
import {
  decodePatientEvent,
  decodeTelemetry,
  parseDeviceTopic,
  topicsFor,
  type PatientEvent,
  type ServiceMqttClient,
  type Topics,
} from '@lantern/messaging';
import type { LiveBroadcaster } from './live-broadcaster.js';
import { API_BROKER } from '../broker/api-broker.tokens.js';
import { PATIENT_DEVICES, type PatientDevices } from './live.tokens.js';
import { ReadingThrottle } from './reading-throttle.js';

/** Devices provisioned or decommissioned while a patient is watched are picked up at the latest after this. */
const DEVICE_REFRESH_MS = 30_000;

interface Watch {
  /** Sockets on this instance watching the patient. */
  count: number;
  /** Device ids whose telemetry topics we are subscribed to. */
  devices: Set<string>;
  /** Settles when the broker subscriptions of the first watcher are in place. */
  ready: Promise<void>;
}

/**
 * Routes a patient's events from the broker to this instance's sockets (DESIGN.md "the broker is the
 * backbone"): the patient's event topics and device telemetry topics are subscribed only while at
 * least one local socket watches the patient, and dropped when the last one leaves. No state is
 * shared with other api instances; each subscribes for its own sockets and the broker fans out.
 */
@Injectable()
export class LiveRoutingService implements OnModuleDestroy {
  private readonly logger = new Logger(LiveRoutingService.name);
  private readonly topics: Topics;
  private readonly maxBackfillMs: number;
  private readonly watches = new Map<string, Watch>();
  private readonly deviceOwners = new Map<string, string>();
  private readonly throttle: ReadingThrottle;
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly stopListening: () => void;
  private broadcaster?: LiveBroadcaster;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    @Inject(API_BROKER) private readonly mqtt: ServiceMqttClient,
    @Inject(PATIENT_DEVICES) private readonly devices: PatientDevices,
  ) {
    this.topics = topicsFor(config.mqttTopicRoot);
    this.maxBackfillMs = config.ingestMaxBackfill;
    this.throttle = new ReadingThrottle(config.liveReadingMinIntervalMs, (event) =>
      this.broadcaster?.toWatchers(event.patientId, 'reading', event),
    );
    this.stopListening = this.mqtt.onMessage((topic, payload) => this.route(topic, payload));
    this.refreshTimer = setInterval(() => void this.refreshAll(), DEVICE_REFRESH_MS);
    this.refreshTimer.unref();
  }

  /** The gateway registers itself as the destination of routed events. */
  attach(broadcaster: LiveBroadcaster): void {
    this.broadcaster = broadcaster;
  }

  /** Patients currently watched on this instance, with their watcher counts. */
  watched(): Map<string, number> {
    return new Map([...this.watches].map(([id, w]) => [id, w.count]));
  }

  /** One more local socket watches the patient; resolves once the broker routes its events here. */
  async watch(patientId: string): Promise<void> {
    const existing = this.watches.get(patientId);
    if (existing) {
      existing.count += 1;
      return existing.ready;
    }
    const watch: Watch = { count: 1, devices: new Set(), ready: Promise.resolve() };
    this.watches.set(patientId, watch);
    watch.ready = this.establish(patientId, watch);
    return watch.ready;
  }

  /** One local socket stopped watching; the last one to leave drops the broker subscriptions. */
  async unwatch(patientId: string): Promise<void> {
    const watch = this.watches.get(patientId);
    if (!watch) return;
    watch.count -= 1;
    if (watch.count > 0) return;
    await watch.ready;
    // Someone subscribed again while the first subscription was being set up.
    if (watch.count > 0 || this.watches.get(patientId) !== watch) return;
    this.watches.delete(patientId);
    this.throttle.forgetPatient(patientId);
    const filters = [this.eventFilter(patientId)];
    for (const deviceId of watch.devices) {
      this.deviceOwners.delete(deviceId);
      filters.push(this.topics.telemetry(deviceId));
    }
    try {
      await this.mqtt.unsubscribe(filters);
    } catch (error) {
      this.logger.warn(`could not unsubscribe patient ${patientId}: ${String(error)}`);
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.refreshTimer);
    this.stopListening();
    this.throttle.clear();
  }

  private eventFilter(patientId: string): string {
    return this.topics.patientEvents(patientId);
  }

  /** Never rejects: a broker or database hiccup is logged and healed by the periodic refresh. */
  private async establish(patientId: string, watch: Watch): Promise<void> {
    try {
      await this.mqtt.subscribe([this.eventFilter(patientId)], 1);
      await this.syncDevices(patientId, watch);
    } catch (error) {
      this.logger.warn(`live routing for patient ${patientId} incomplete, retrying later: ${String(error)}`);
    }
  }

  /** Subscribes to telemetry of devices new to the patient, unsubscribes from decommissioned ones. */
  private async syncDevices(patientId: string, watch: Watch): Promise<void> {
    const current = await this.devices.activeDeviceIds([patientId]);
    await this.applyDevices([[patientId, watch]], current);
  }

  /**
   * Brings the telemetry subscriptions of these watches in line with their patients' active devices
   * (as read by PatientDevices): one unsubscribe and one subscribe for all of them, of what changed only.
   */
  private async applyDevices(watches: readonly (readonly [string, Watch])[], current: Map<string, string[]>) {
    // Unwatched (or watched anew) while the devices were read: left alone.
    const live = watches
      .filter(([patientId, watch]) => this.watches.get(patientId) === watch)
      .map(([patientId, watch]) => ({ patientId, watch, now: new Set(current.get(patientId.toLowerCase()) ?? []) }));
    const removed: string[] = [];
    for (const { watch, now } of live) {
      for (const id of watch.devices)
        if (!now.has(id)) {
          watch.devices.delete(id);
          this.deviceOwners.delete(id);
          removed.push(id);
        }
    }
    // After every removal: a device moved from one watched patient to another keeps its new owner.
    const added: string[] = [];
    for (const { patientId, watch, now } of live)
      for (const id of now)
        if (!watch.devices.has(id)) {
          watch.devices.add(id);
          this.deviceOwners.set(id, patientId);
          added.push(id);
        }
    if (removed.length > 0) await this.mqtt.unsubscribe(removed.map((id) => this.topics.telemetry(id)));
    // QoS 1 although a lost live value is harmless: at QoS 0 Mosquitto (no TCP_NODELAY by default) holds small
    // packets for our delayed TCP ACK, ~20 ms median; our PUBACKs keep that connection flowing (bench/src/live-latency.ts).
    if (added.length > 0)
      await this.mqtt.subscribe(
        added.map((id) => this.topics.telemetry(id)),
        1,
      );
  }

  private refresh(patientId: string): void {
    const watch = this.watches.get(patientId);
    if (!watch) return;
    void watch.ready
      .then(() => this.mqtt.subscribe([this.eventFilter(patientId)], 1))
      .then(() => this.syncDevices(patientId, watch))
      .catch((error: unknown) => this.logger.warn(`device refresh for patient ${patientId} failed: ${String(error)}`));
  }

  /**
   * Every DEVICE_REFRESH_MS, for every watched patient at once: the event subscriptions renewed (a
   * failed one heals here) and the devices read again, in one subscribe and one query — not one of
   * each per patient, a burst that delayed the alerts of that moment. Its timer calls it (and tests).
   */
  async refreshAll(): Promise<void> {
    const watched = [...this.watches];
    if (watched.length === 0) return;
    await Promise.all(watched.map(([, watch]) => watch.ready));
    try {
      await this.mqtt.subscribe(
        watched.map(([patientId]) => this.eventFilter(patientId)),
        1,
      );
      await this.applyDevices(watched, await this.devices.activeDeviceIds(watched.map(([patientId]) => patientId)));
    } catch (error) {
      this.logger.warn(`device refresh of ${watched.length} watched patients failed: ${String(error)}`);
    }
  }

  /** One broker message; anything malformed is logged and dropped, never thrown into the client. */
  private route(topic: string, payload: Buffer): void {
    try {
      const device = parseDeviceTopic(this.topics.root, topic);
      if (device?.kind === 'telemetry') return this.routeTelemetry(device.deviceId, payload);
      const event = decodePatientEvent(this.topics.root, topic, payload);
      if (event === undefined) {
        this.logger.warn(`dropped unreadable live message on ${topic}`);
        return;
      }
      if (this.watches.has(event.patientId)) this.routeEvent(event);
    } catch (error) {
      this.logger.warn(`dropped live message on ${topic}: ${String(error)}`);
    }
  }

  private routeTelemetry(deviceId: string, payload: Buffer): void {
    const patientId = this.deviceOwners.get(deviceId);
    if (patientId === undefined) return;
    // The ingest's own validation, so a value it rejects (implausible, wrong unit) never shows live either.
    const { readings } = decodeTelemetry(payload, {
      receivedAt: Date.now(),
      maxBackfillMs: this.maxBackfillMs,
      deviceId,
    });
    // A message may carry many readings of a metric (a back-filled minute): only the newest can matter on screen.
    const newest = new Map<string, LiveReadingEvent>();
    for (const reading of readings) {
      const ts = new Date(reading.time).toISOString();
      const previous = newest.get(reading.metric);
      if (previous && previous.ts >= ts) continue;
      newest.set(reading.metric, {
        patientId,
        deviceId,
        metric: reading.metric,
        value: reading.value,
        unit: METRICS[reading.metric].unit,
        ts,
      });
    }
    for (const event of newest.values()) this.throttle.offer(event);
  }

  private routeEvent(event: PatientEvent): void {
    // The topic names the patient; a payload naming another one is a publishing bug and must not leak.
    if (event.payload.patientId !== event.patientId)
      throw new Error(`payload for patient ${event.payload.patientId} on another patient's topic`);
    switch (event.kind) {
      case 'alerts':
        this.broadcaster?.toWatchers(event.patientId, 'alert', event.payload);
        return;
      case 'devices':
        this.broadcaster?.toWatchers(event.patientId, 'device', event.payload);
        // A device that starts talking may be new to us: pick up its telemetry now, not at the next sweep.
        if (!this.deviceOwners.has(event.payload.deviceId)) this.refresh(event.patientId);
        return;
      case 'notifications':
        this.broadcaster?.toPatientSelf(event.patientId, event.payload);
        return;
    }
  }
}
