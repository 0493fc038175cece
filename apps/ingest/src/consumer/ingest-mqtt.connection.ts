import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { brokerTrust, sharedFilter, topicsFor, type BrokerPublisher } from '@lantern/messaging';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { OrderedAcks } from './ordered-acks.js';
import { PendingMessage } from './pending-message.js';

/**
 * How PUBACKs are sent. `held` (the default): mqtt.js reads on at once and the PUBACKs wait, in
 * arrival order, for their messages to commit. `naive`: mqtt.js's own flow, holding its read loop
 * until the message commits — one message in flight per connection (kept for measurement only).
 */
export type AckMode = 'held' | 'naive';
export const INGEST_ACK_MODE = Symbol('INGEST_ACK_MODE');

/** A message handed to the pipeline. The pipeline must hold/release/seal `pending` and never throw. */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly receivedAt: number;
  readonly pending: PendingMessage;
}

/**
 * Longest run of inbound messages processed without letting the event loop come round. mqtt.js
 * works through a socket read's packets in one go (process.nextTick): under load that is tens to
 * hundreds of milliseconds during which no database answer — an alert's commit — is handled.
 */
const SLICE_MS = 5;

/** Shared-subscription group of the ingest instances. */
export const INGEST_SHARE_GROUP = 'ingest';

/** A refused or failed subscription is tried again after this long (while connected). */
const RESUBSCRIBE_RETRY_MS = 5000;

/** The persistent session's subscriptions as the previous run left them, and where to record the new set. */
export interface SessionLedger {
  /** Filters a previous configuration subscribed on this client id's session that the current one does not name. */
  readonly staleFilters: readonly string[];
  /** Called once the current filters are subscribed and the stale ones unsubscribed (may be called again). */
  recordFilters(filters: readonly string[]): void;
}

/** What the connection knows of its own health (see IngestHeartbeatService). */
export interface ConnectionHealth {
  readonly connected: boolean;
  readonly subscribed: readonly string[];
  /** Since when it has not been connected with every filter granted; null while it is. */
  readonly notConsumingSince: number | null;
  readonly lastMessageAt: number | null;
  readonly lastCanaryAt: number | null;
  readonly canaryRoundTripMs: number | null;
  readonly canarySince: number;
  readonly oldestUnackedAt: number | undefined;
  readonly pendingMessages: number;
  readonly paused: boolean;
}

/** mqtt.js internals this class takes over; see docs/ingest.md ("Acknowledgement design"). */
interface PatchableClient {
  handleMessage(packet: IPublishPacket, callback: (error?: Error) => void): void;
  _sendPacket(packet: Packet, cb?: (error?: Error) => void, cbStorePut?: () => void, noStore?: boolean): void;
  stream?: { cork?: () => void; uncork?: () => void };
}

/**
 * The ingest's MQTT connection: a fixed client id with a persistent session, QoS 1 subscriptions
 * (shared where the broker speaks MQTT 5), and acknowledgement after commit without giving up
 * pipelining. Works on MQTT 5 (Mosquitto, EMQX) and 3.1.1 (the embedded aedes broker): rather than
 * `customHandleAcks` (MQTT 5 only in mqtt.js), it intercepts the PUBACK mqtt.js would send after
 * `handleMessage`, lets mqtt.js read the next packet at once, and sends the PUBACKs itself in
 * arrival order as messages commit. When INGEST_MAX_PENDING_MESSAGES are unacknowledged it stops
 * reading the socket (backpressure) until acknowledgements catch up.
 */
@Injectable()
export class IngestMqttConnection implements BrokerPublisher {
  private readonly logger = new Logger('IngestMqtt');
  private client: MqttClient | undefined;
  private sendPacket: PatchableClient['_sendPacket'] | undefined;
  private readonly acks = new OrderedAcks((run) => this.sendAcks(run));
  private readonly naiveCallbacks = new WeakMap<PendingMessage, () => void>();
  private handler: ((message: InboundMessage) => void) | undefined;
  private gated: (() => void) | undefined;
  /** QoS 0 messages whose work is not yet committed (counted against INGEST_MAX_PENDING_MESSAGES). */
  private unsettledQos0 = 0;
  private unsettledQos0Bytes = 0;
  /** Start of the current run of synchronously processed messages (0: none running). */
  private sliceStart = 0;
  private version: 4 | 5 = 5;
  /** Filters granted on the current connection ([] until the SUBACK, or when refused). */
  private subscribed: string[] = [];
  private notConsumingSince: number | null = Date.now();
  private lastMessageAt: number | null = null;
  private lastCanaryAt: number | null = null;
  private canaryRoundTripMs: number | null = null;
  private canarySince = Date.now();
  private canaryTimer: NodeJS.Timeout | undefined;
  private canaryTopic = '';
  /** Unshared topics this instance hears besides the devices' (the api's internal events), by topic. */
  private readonly controlHandlers = new Map<string, (payload: Buffer) => void>();

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly metrics: IngestMetrics,
    @Inject(INGEST_ACK_MODE) private readonly mode: AckMode,
  ) {}

  /** Protocol in use after `start` (5 or 4 = 3.1.1). */
  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /**
   * Messages taken in and not yet done with: QoS 1 ones awaiting their PUBACK, and QoS 0 ones whose
   * readings are not yet committed (nothing to acknowledge, but they hold memory all the same).
   */
  get pendingMessages(): number {
    return this.acks.pending + this.unsettledQos0;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Registers the pipeline; must be called before `start` so redelivered messages find it. */
  onMessage(handler: (message: InboundMessage) => void): void {
    this.handler = handler;
  }

  /**
   * Hears `topic` on this connection, unshared like the canary: every instance gets each message,
   * acknowledged in its turn without waiting for `handler`'s work (which must not throw). Register
   * before `start`. On this connection rather than one of their own, so the process holds one broker
   * connection, and what arrives while the ingest is down waits in its persistent session.
   */
  onControlTopic(topic: string, handler: (payload: Buffer) => void): void {
    this.controlHandlers.set(topic, handler);
  }

  /**
   * The filters this configuration subscribes to: the device topics (shared on MQTT 5 when
   * INGEST_SHARED_SUBSCRIPTION is on), the instance's canary and the control topics.
   */
  filtersFor(version: 4 | 5): string[] {
    const topics = topicsFor(this.config.mqttTopicRoot);
    return [
      ...[topics.allTelemetry, topics.allStatus].map((f) =>
        version === 5 && this.config.ingestSharedSubscription ? sharedFilter(INGEST_SHARE_GROUP, f) : f,
      ),
      topics.ingestCanary(this.config.ingestMqttClientId),
      ...this.controlHandlers.keys(),
    ];
  }

  /** The protocol the broker speaks (5, or 4 = 3.1.1), probed once; retries until the broker answers. */
  async probe(): Promise<4 | 5> {
    this.version = await this.detectProtocol(this.brokerUrl());
    return this.version;
  }

  health(): ConnectionHealth {
    return {
      connected: this.connected,
      subscribed: this.subscribed,
      notConsumingSince: this.notConsumingSince,
      lastMessageAt: this.lastMessageAt,
      lastCanaryAt: this.lastCanaryAt,
      canaryRoundTripMs: this.canaryRoundTripMs,
      canarySince: this.canarySince,
      oldestUnackedAt: this.acks.oldestReceivedAt,
      pendingMessages: this.pendingMessages,
      paused: this.gated !== undefined,
    };
  }

  /**
   * Connects (after `probe`), subscribes on every connect whatever the session state — a resumed
   * session may hold another configuration's filters, or none if the broker lost them; SUBSCRIBE
   * is idempotent — drops the stale filters the ledger names, starts the canary, and consumes.
   */
  async start(ledger: SessionLedger): Promise<void> {
    const url = this.brokerUrl();
    const filters = this.filtersFor(this.version);
    this.canaryTopic = topicsFor(this.config.mqttTopicRoot).ingestCanary(this.config.ingestMqttClientId);
    let stale = ledger.staleFilters.filter((f) => !filters.includes(f));
    const maxPending = this.config.ingestMaxPendingMessages;
    const options: IClientOptions = {
      clientId: this.config.ingestMqttClientId,
      username: this.config.mqttUsername,
      password: this.config.mqttPassword,
      protocolVersion: this.version,
      clean: false,
      // MQTT 5 sessions end with the connection unless given an expiry: keep it (the broker holds our messages).
      ...(this.version === 5
        ? { properties: { sessionExpiryInterval: 0xffffffff, receiveMaximum: Math.min(65535, maxPending) } }
        : {}),
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: false,
      manualConnect: true,
      ...brokerTrust(this.config.mqttCaFile),
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    const patchable = client as unknown as PatchableClient;
    const original = patchable._sendPacket.bind(client);
    this.sendPacket = original;
    // Installed before connecting: a resumed session's redeliveries arrive right after CONNACK.
    patchable.handleMessage = (packet, callback) => this.onPublish(packet, callback);
    if (this.mode === 'held') {
      patchable._sendPacket = (packet, cb, cbStorePut, noStore) => {
        if (packet.cmd === 'puback') {
          // Not now: OrderedAcks sends it after commit. Let mqtt.js read the next packet (unless paused).
          this.gate(() => cb?.());
          return;
        }
        original(packet, cb, cbStorePut, noStore);
      };
    }
    const subscribe = (): void => {
      if (this.client !== client || !client.connected) return;
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        const refused = (granted ?? []).filter((g) => g.qos > 2).map((g) => g.topic);
        if (error || refused.length > 0) {
          this.subscribed = (granted ?? []).filter((g) => g.qos <= 2).map((g) => g.topic);
          this.notConsumingSince ??= Date.now();
          this.logger.error(
            `Subscribing failed (${error ? error.message : `refused: ${refused.join(', ')}`}); retrying in ${RESUBSCRIBE_RETRY_MS} ms`,
          );
          setTimeout(subscribe, RESUBSCRIBE_RETRY_MS).unref();
          return;
        }
        this.subscribed = filters;
        this.notConsumingSince = null;
        this.logger.log(`Subscribed to ${filters.join(', ')}`);
        if (stale.length === 0) return ledger.recordFilters(filters);
        const dropping = stale;
        client.unsubscribe(dropping, (unsubscribeError) => {
          if (unsubscribeError) {
            this.logger.warn(
              `Unsubscribing stale filters failed (retried on the next connect): ${unsubscribeError.message}`,
            );
            return;
          }
          stale = [];
          this.logger.warn(`Unsubscribed filters a previous configuration left on the session: ${dropping.join(', ')}`);
          ledger.recordFilters(filters);
        });
      });
    };
    client.on('connect', (connack) => {
      this.metrics.connected.set(1);
      this.logger.log(
        `Connected to ${url} as ${options.clientId} (MQTT ${this.version === 5 ? '5' : '3.1.1'}, session ${connack.sessionPresent ? 'resumed' : 'new'})`,
      );
      subscribe();
    });
    client.on('close', () => {
      this.metrics.connected.set(0);
      this.subscribed = [];
      this.notConsumingSince ??= Date.now();
      const dropped = this.acks.connectionLost();
      if (dropped > 0) {
        this.metrics.redeliveryDrops.inc(dropped);
        this.logger.warn(`Connection lost with ${dropped} unacknowledged messages; the broker will redeliver them`);
      }
      this.releaseGate();
    });
    client.on('error', (error) => this.logger.warn(`MQTT: ${error.message}`));
    this.metrics.onScrape(() => this.sampleLag());

    await new Promise<void>((resolve) => {
      client.once('connect', () => resolve());
      client.connect();
    });
    this.canarySince = Date.now();
    this.canaryTimer = setInterval(() => this.sendCanary(), this.config.ingestCanaryIntervalMs);
    this.canaryTimer.unref();
    this.sendCanary();
  }

  /** Publishes the canary the instance expects back through its own subscription. */
  private sendCanary(): void {
    const client = this.client;
    if (!client?.connected) return;
    client.publish(this.canaryTopic, JSON.stringify({ sentAt: Date.now() }), { qos: 1 }, (error) => {
      if (error) this.logger.debug(`Canary not published: ${error.message}`);
    });
  }

  /** A canary came back: the subscription delivers. Returns false for any other topic. */
  private onCanary(packet: IPublishPacket, receivedAt: number): boolean {
    if (packet.topic !== this.canaryTopic) return false;
    this.lastCanaryAt = receivedAt;
    try {
      const { sentAt } = JSON.parse(packet.payload.toString()) as { sentAt?: unknown };
      if (typeof sentAt === 'number') this.canaryRoundTripMs = Math.max(0, receivedAt - sentAt);
    } catch {
      // Not our canary's shape: it still proves delivery.
    }
    return true;
  }

  /** A control message (see `onControlTopic`) handed to its handler. Returns false for any other topic. */
  private onControl(packet: IPublishPacket): boolean {
    const handler = this.controlHandlers.get(packet.topic);
    if (!handler) return false;
    try {
      handler(packet.payload as Buffer);
    } catch (error) {
      this.logger.error(`Handling ${packet.topic} failed: ${(error as Error).message}`);
    }
    return true;
  }

  /** Publishes (error replies, patient events) on the ingest's connection. */
  publish(
    topic: string,
    payload: string | Buffer,
    options: { qos: 0 | 1; retain?: boolean },
    callback?: (error?: Error) => void,
  ): void {
    if (!this.client) {
      callback?.(new Error('not connected'));
      return;
    }
    this.client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false }, (error) =>
      callback?.(error ?? undefined),
    );
  }

  /** Disconnects. Unacknowledged messages stay in the broker session and are redelivered on the next start. */
  async stop(): Promise<void> {
    if (this.canaryTimer) clearInterval(this.canaryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  private onPublish(packet: IPublishPacket, callback: (error?: Error) => void): void {
    const receivedAt = Date.now();
    const qos = packet.qos ?? 0;
    const bytes = packet.payload.length;
    const pending = qos > 0 ? this.acks.begin(packet.messageId, receivedAt, bytes) : this.beginQos0(receivedAt, bytes);
    if (this.mode === 'naive' && qos > 0) this.naiveCallbacks.set(pending, () => callback());
    this.lastMessageAt = receivedAt;
    if (this.onCanary(packet, receivedAt) || this.onControl(packet)) {
      // Nothing to store: acknowledged in its turn, after the messages that came before it.
      pending.seal();
    } else {
      this.metrics.messages.inc({ kind: packet.topic.endsWith('/status') ? 'status' : 'telemetry', qos: String(qos) });
      try {
        if (!this.handler) throw new Error('no pipeline registered');
        this.handler({ topic: packet.topic, payload: packet.payload as Buffer, qos, receivedAt, pending });
      } catch (error) {
        // The pipeline never throws by contract (it dead-letters what it cannot handle). Were it to,
        // leaving this message unacknowledged would hold every later PUBACK (they leave in order):
        // seal it so what it queued still commits first, and say so loudly.
        this.metrics.internalErrors.inc();
        this.logger.error(`Pipeline failed on ${packet.topic}: ${(error as Error).stack ?? String(error)}`);
        pending.seal();
      }
    }
    if (this.mode === 'naive' && qos > 0) return;
    // Held mode: `callback` makes mqtt.js send the PUBACK (intercepted above) and read on.
    // QoS 0: nothing to acknowledge, only the backpressure gate.
    if (qos > 0) callback();
    else this.gate(() => callback());
  }

  private beginQos0(receivedAt: number, bytes: number): PendingMessage {
    this.unsettledQos0 += 1;
    this.unsettledQos0Bytes += bytes;
    return new PendingMessage(
      undefined,
      this.acks.currentGeneration,
      receivedAt,
      () => {
        this.unsettledQos0 -= 1;
        this.unsettledQos0Bytes -= bytes;
        if (this.gated && this.hasRoom()) this.releaseGate();
      },
      bytes,
    );
  }

  /** Payload bytes of the messages taken in and not yet done with (see `pendingMessages`). */
  get pendingBytes(): number {
    return this.acks.pendingBytes + this.unsettledQos0Bytes;
  }

  /**
   * Whether another message may be read: fewer than INGEST_MAX_PENDING_MESSAGES and
   * INGEST_MAX_PENDING_BYTES unfinished. Bytes too, as a message of 1000 readings holds a thousand
   * times the memory of one of a single reading.
   */
  private hasRoom(): boolean {
    return (
      this.pendingMessages < this.config.ingestMaxPendingMessages &&
      this.pendingBytes < this.config.ingestMaxPendingBytes
    );
  }

  /** Lets mqtt.js read the next packet now, or later when too many messages are unfinished. */
  private gate(readNext: () => void): void {
    if (this.hasRoom()) {
      const now = performance.now();
      if (this.sliceStart === 0) {
        this.sliceStart = now;
        // The run ends when the event loop comes round (its check phase), whether we yielded or not.
        setImmediate(() => (this.sliceStart = 0));
      }
      if (now - this.sliceStart < SLICE_MS) readNext();
      else setImmediate(readNext);
      return;
    }
    if (this.gated) this.logger.error('Backpressure gate held twice; releasing the first');
    const previous = this.gated;
    this.gated = readNext;
    previous?.();
    this.metrics.paused.set(1);
    this.logger.warn(
      `Paused reading: ${this.pendingMessages} messages (${this.pendingBytes} bytes) unfinished (INGEST_MAX_PENDING_MESSAGES, INGEST_MAX_PENDING_BYTES)`,
    );
  }

  private releaseGate(): void {
    const readNext = this.gated;
    if (!readNext) return;
    this.gated = undefined;
    this.metrics.paused.set(0);
    this.logger.log('Resumed reading');
    readNext();
  }

  private sendAcks(run: readonly PendingMessage[]): void {
    const now = Date.now();
    if (this.mode === 'naive') {
      for (const m of run) {
        this.metrics.ackLagSeconds.observe((now - m.receivedAt) / 1000);
        this.naiveCallbacks.get(m)?.();
      }
      return;
    }
    const client = this.client;
    const send = this.sendPacket;
    if (client?.connected && send) {
      // One write for the whole run rather than a syscall per PUBACK.
      const stream = (client as unknown as PatchableClient).stream;
      stream?.cork?.();
      for (const m of run) {
        if (m.messageId === undefined || m.generation !== this.acks.currentGeneration) continue;
        send({ cmd: 'puback', messageId: m.messageId, reasonCode: 0 });
        this.metrics.ackLagSeconds.observe((now - m.receivedAt) / 1000);
      }
      if (stream?.uncork) process.nextTick(() => stream.uncork?.());
    }
    if (this.gated && this.hasRoom()) this.releaseGate();
  }

  private sampleLag(): void {
    const oldest = this.acks.oldestReceivedAt;
    this.metrics.pendingMessages.set(this.pendingMessages);
    this.metrics.pendingBytes.set(this.pendingBytes);
    this.metrics.oldestUnackedSeconds.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
  }

  private brokerUrl(): string {
    if (!this.config.mqttUrl)
      throw new Error('MQTT_URL is not set (the embedded broker sets it before the ingest starts)');
    return this.config.mqttUrl;
  }

  /**
   * MQTT 5 where the broker speaks it (needed for shared subscriptions with session expiry); 3.1.1
   * otherwise (aedes refuses a v5 CONNECT). Retries until the broker answers at all.
   */
  private async detectProtocol(url: string): Promise<4 | 5> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      const answer = await new Promise<4 | 5 | Error>((resolve) => {
        const probe = mqtt.connect(url, {
          clientId: `${this.config.ingestMqttClientId}-probe-${randomUUID().slice(0, 8)}`,
          username: this.config.mqttUsername,
          password: this.config.mqttPassword,
          protocolVersion: 5,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...brokerTrust(this.config.mqttCaFile),
        });
        const done = (result: 4 | 5 | Error): void => {
          probe.removeAllListeners();
          probe.on('error', () => undefined);
          probe.end(true);
          resolve(result);
        };
        probe.once('connect', () => done(5));
        probe.once('error', (error: Error & { code?: number }) => {
          // 1: "unacceptable protocol version" (3.1.1 CONNACK); 132: "unsupported protocol version" (5).
          if (error.code === 1 || error.code === 132 || /protocol version/i.test(error.message)) done(4);
          else done(error);
        });
        probe.once('close', () => done(new Error('connection closed')));
      });
      if (answer === 4 || answer === 5) return answer;
      this.logger.warn(`Broker ${url} not ready (${answer.message}); retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
