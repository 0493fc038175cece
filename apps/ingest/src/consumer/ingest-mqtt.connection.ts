import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import {
  brokerTrust,
  keepAliveWhileReceiving,
  quietMqttLog,
  topicsFor,
  type BrokerPublisher,
} from '@lantern/messaging';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { detectBrokerProtocol } from './broker-protocol.js';
import { ControlTopics } from './control-topics.js';
import type { InboundMessage } from './inbound-message.js';
import { IngestCanary } from './ingest-canary.js';
import { IngestSubscription, ingestFilters, type SessionLedger } from './ingest-subscription.js';
import { INGEST_ACK_MODE, InflightMessages, type AckMode } from './inflight-messages.js';
import { interceptPubacks, type InboundPublish } from './puback-interception.js';
import { ReadGate } from './read-gate.js';

// The connection's injection token, bound by IngestModule and overridden by the ingest tests.
export { INGEST_ACK_MODE, type AckMode } from './inflight-messages.js';

/** What the connection knows of its own health (see IngestHeartbeatService). */
export interface ConnectionHealth {
  readonly connected: boolean;
  /** Since when the connection it publishes on (events, error replies, the canary) has been down; null while it is up. */
  readonly notPublishingSince: number | null;
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

/**
 * The ingest's MQTT connection, and the only file of the ingest that loads mqtt.js: a fixed client
 * id with a persistent session, QoS 1 subscriptions (shared where the broker speaks MQTT 5;
 * IngestSubscription), and acknowledgement after commit without giving up pipelining. Works on
 * MQTT 5 (Mosquitto, EMQX) and 3.1.1 (the embedded aedes broker): rather than `customHandleAcks`
 * (MQTT 5 only in mqtt.js), it intercepts the PUBACK mqtt.js would send after `handleMessage`, lets
 * mqtt.js read the next packet at once, and sends the PUBACKs itself in arrival order as messages
 * commit (InflightMessages). When INGEST_MAX_PENDING_MESSAGES are unacknowledged it stops reading
 * the socket (backpressure, ReadGate) until acknowledgements catch up. Each message goes to the
 * canary (IngestCanary), a control topic's handler (ControlTopics) or the pipeline.
 *
 * What the ingest publishes — patient events, error replies, the canary — goes out on a second,
 * clean-session connection of its own (`{client id}-events-{random}`), never on the consuming one:
 * Mosquitto reads one packet per connection per turn of its loop, so an alert event written behind
 * the thousands of PUBACKs a batch commit releases waited for all of them to be read first
 * (docs/performance.md, "The alert's way back").
 */
@Injectable()
export class IngestMqttConnection implements BrokerPublisher {
  private readonly logger = new Logger('IngestMqtt');
  private client: MqttClient | undefined;
  /** The connection everything the ingest publishes goes out on (see the class comment). */
  private publisher: MqttClient | undefined;
  private notPublishingSince: number | null = Date.now();
  private readonly inflight: InflightMessages;
  private readonly gate: ReadGate;
  private readonly subscription = new IngestSubscription(this.logger);
  private readonly canary: IngestCanary;
  private readonly controls = new ControlTopics(this.logger);
  private handler: ((message: InboundMessage) => void) | undefined;
  private version: 4 | 5 = 5;
  private lastMessageAt: number | null = null;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly metrics: IngestMetrics,
    @Inject(INGEST_ACK_MODE) private readonly mode: AckMode,
  ) {
    this.inflight = new InflightMessages(mode, config, metrics, this.logger, () => this.gate.reopenIfRoom());
    this.gate = new ReadGate(this.inflight, metrics, this.logger);
    this.canary = new IngestCanary(
      topicsFor(config.mqttTopicRoot).ingestCanary(config.ingestMqttClientId),
      config.ingestCanaryIntervalMs,
      this.logger,
    );
  }

  /** Protocol in use after `start` (5 or 4 = 3.1.1). */
  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** Messages taken in and not yet done with (see InflightMessages). */
  get pendingMessages(): number {
    return this.inflight.pendingMessages;
  }

  /** Payload bytes of the messages taken in and not yet done with (see `pendingMessages`). */
  get pendingBytes(): number {
    return this.inflight.pendingBytes;
  }

  /** Whether the consuming connection is up. */
  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Whether the connection the ingest publishes on is up (what is published meanwhile waits in mqtt.js). */
  get publishing(): boolean {
    return this.publisher?.connected ?? false;
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
    this.controls.add(topic, handler);
  }

  /** The filters this configuration subscribes to (see `ingestFilters`). */
  filtersFor(version: 4 | 5): string[] {
    return ingestFilters(this.config, version, this.controls.topics);
  }

  /** The protocol the broker speaks (5, or 4 = 3.1.1), probed once; retries until the broker answers. */
  async probe(): Promise<4 | 5> {
    const url = this.brokerUrl();
    this.version = await detectBrokerProtocol(
      url,
      () =>
        mqtt.connect(url, {
          clientId: `${this.config.ingestMqttClientId}-probe-${randomUUID().slice(0, 8)}`,
          username: this.config.mqttUsername,
          password: this.config.mqttPassword,
          protocolVersion: 5,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...brokerTrust(this.config.mqttCaFile),
        }),
      this.logger,
    );
    return this.version;
  }

  health(): ConnectionHealth {
    return {
      connected: this.connected,
      notPublishingSince: this.notPublishingSince,
      ...this.subscription.state,
      lastMessageAt: this.lastMessageAt,
      ...this.canary.state,
      oldestUnackedAt: this.inflight.oldestUnackedAt,
      pendingMessages: this.pendingMessages,
      paused: this.gate.paused,
    };
  }

  /**
   * Connects (after `probe`), subscribes on every connect (IngestSubscription), drops the stale
   * filters the ledger names, starts the canary, and consumes.
   */
  async start(ledger: SessionLedger): Promise<void> {
    const url = this.brokerUrl();
    const filters = this.filtersFor(this.version);
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
      ...quietMqttLog,
      ...brokerTrust(this.config.mqttCaFile),
    };
    const publishing = this.startPublisher(url);
    const client = mqtt.connect(url, options);
    this.client = client;
    // Read behind a backlog, the broker's PINGRESP comes late: without this, mqtt.js dropped the connection.
    keepAliveWhileReceiving(client);
    this.inflight.attach(
      interceptPubacks(client, {
        mode: this.mode,
        onPublish: (packet, callback) => this.onPublish(packet, callback),
        readNext: (read) => this.gate.pass(read),
        isCurrent: () => this.client === client,
      }),
    );
    const subscribe = this.subscription.onEveryConnect(client, filters, ledger, () => this.client === client);
    client.on('connect', (connack) => {
      this.metrics.connected.set(1);
      this.logger.log(
        `Connected to ${url} as ${options.clientId} (MQTT ${this.version === 5 ? '5' : '3.1.1'}, session ${connack.sessionPresent ? 'resumed' : 'new'})`,
      );
      subscribe();
    });
    client.on('close', () => {
      this.metrics.connected.set(0);
      this.subscription.connectionLost();
      this.inflight.connectionLost();
      this.gate.release();
    });
    client.on('error', (error) => this.logger.warn(`MQTT: ${error.message}`));
    this.metrics.onScrape(() => this.inflight.sampleLag());

    await new Promise<void>((resolve) => {
      client.once('connect', () => resolve());
      client.connect();
    });
    await publishing;
    // Out on the publisher, back on the consumer: a canary that returns proves both connections.
    this.canary.start(
      () => this.connected && this.publishing,
      (topic, payload, callback) => this.publisher?.publish(topic, payload, { qos: 1 }, callback),
    );
  }

  /**
   * Opens the publishing connection (clean session: nothing of it outlives the process; mqtt.js
   * keeps what is published while it is down and sends it on reconnect). The random suffix keeps
   * two processes of one INGEST_MQTT_CLIENT_ID (a leader and its fenced predecessor) from taking
   * the id from each other. Resolves on its first CONNACK.
   */
  private startPublisher(url: string): Promise<void> {
    const clientId = `${this.config.ingestMqttClientId}-events-${randomUUID().slice(0, 8)}`;
    const publisher = mqtt.connect(url, {
      clientId,
      username: this.config.mqttUsername,
      password: this.config.mqttPassword,
      protocolVersion: this.version,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...quietMqttLog,
      ...brokerTrust(this.config.mqttCaFile),
    });
    this.publisher = publisher;
    publisher.on('connect', () => {
      this.notPublishingSince = null;
      this.metrics.publisherConnected.set(1);
    });
    publisher.on('close', () => {
      this.notPublishingSince ??= Date.now();
      this.metrics.publisherConnected.set(0);
    });
    publisher.on('error', (error) => this.logger.warn(`MQTT (publishing, ${clientId}): ${error.message}`));
    return new Promise((resolve) => publisher.once('connect', () => resolve()));
  }

  /** Publishes (error replies, patient events) on the ingest's publishing connection. */
  publish(
    topic: string,
    payload: string | Buffer,
    options: { qos: 0 | 1; retain?: boolean },
    callback?: (error?: Error) => void,
  ): void {
    if (!this.publisher) {
      callback?.(new Error('not connected'));
      return;
    }
    this.publisher.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false }, (error) =>
      callback?.(error ?? undefined),
    );
  }

  /** Disconnects. Unacknowledged messages stay in the broker session and are redelivered on the next start. */
  async stop(): Promise<void> {
    this.canary.stop();
    const [client, publisher] = [this.client, this.publisher];
    this.client = undefined;
    this.publisher = undefined;
    await Promise.all([client?.endAsync(true), publisher?.endAsync(true)]);
  }

  private onPublish(packet: InboundPublish, callback: (error?: Error) => void): void {
    const receivedAt = Date.now();
    const qos = packet.qos ?? 0;
    const payload = packet.payload as Buffer;
    const pending = this.inflight.begin(qos, packet.messageId, receivedAt, payload.length, () => callback());
    this.lastMessageAt = receivedAt;
    if (this.canary.received(packet.topic, payload, receivedAt) || this.controls.deliver(packet.topic, payload)) {
      // Nothing to store: acknowledged in its turn, after the messages that came before it.
      pending.seal();
    } else {
      this.metrics.messageReceived(packet.topic.endsWith('/status') ? 'status' : 'telemetry', qos);
      try {
        if (!this.handler) throw new Error('no pipeline registered');
        this.handler({ topic: packet.topic, payload, qos, receivedAt, pending });
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
    else this.gate.pass(() => callback());
  }

  private brokerUrl(): string {
    if (!this.config.mqttUrl)
      throw new Error('MQTT_URL is not set (the embedded broker sets it before the ingest starts)');
    return this.config.mqttUrl;
  }
}
