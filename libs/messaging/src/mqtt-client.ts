import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { LanternConfig } from '@lantern/config';
import { brokerTrust } from './broker-trust.js';

type QoS = 0 | 1 | 2;

export interface ServiceMqttClientOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Prefix of the generated client id; each connection gets a unique id so api instances never kick each other off. */
  readonly clientIdPrefix?: string;
  /** How long one connection attempt waits for its CONNACK. */
  readonly connectTimeoutMs?: number;
  /** CA certificate(s) trusted for an mqtts:// or wss:// URL instead of the system's (`brokerTrust`). */
  readonly ca?: Buffer;
}

export type MqttMessageHandler = (topic: string, payload: Buffer) => void;

/**
 * Counts every packet read from the broker as a sign that it is alive.
 *
 * mqtt.js (5.x) resets its keepalive only when the broker answers one of our own packets (an ack or
 * a PINGRESP). A connection that mostly receives PUBLISHes — the ingest's — therefore sends a PINGREQ
 * after one keepalive and drops the connection ("Keepalive timeout") half a keepalive later if the
 * PINGRESP has not been read by then. The broker queues that PINGRESP behind every message it has
 * already sent us, so whenever we read behind a backlog that takes longer than that to drain (an
 * overload, a restart with messages waiting), mqtt.js dropped a healthy connection in the middle of
 * the backlog: reconnect, resubscribe, redelivery of what was unacknowledged, and patient events
 * published meanwhile held back (seen in the bench after its overload step, docs/performance.md).
 *
 * Any packet read proves the broker alive, so the ping is rescheduled on each one, at most four times
 * per keepalive interval. A broker that sends nothing is still pinged and, when silent, dropped.
 */
export function keepAliveWhileReceiving(client: MqttClient): void {
  const everyMs = ((client.options.keepalive ?? 60) * 1000) / 4;
  let last = 0;
  client.on('packetreceive', () => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    client.reschedulePing();
  });
}

/**
 * mqtt.js's `log` option for Lantern's connections: nothing, unless DEBUG is set (DEBUG=mqttjs*
 * turns mqtt.js's own logging on). mqtt.js logs every packet it handles through `debug`, and a
 * disabled `debug` call still gathers its arguments into an array: 5 % of all the ingest allocated
 * under the bench's load (docs/performance.md).
 */
export const quietMqttLog: Pick<IClientOptions, 'log'> = process.env.DEBUG ? {} : { log: () => undefined };

/** The broker Lantern's roles talk to: MQTT_URL, or (without it) the supervisor's embedded broker on this machine. */
export function brokerUrl(config: LanternConfig): string {
  return config.mqttUrl ?? `mqtt://127.0.0.1:${config.embeddedMqttPort}`;
}

/**
 * A plain mqtt.js connection for Lantern's own services (the api role's one connection: live routing,
 * internal events, device revocations, and what /health reports):
 * clean session, automatic reconnect, and the current subscriptions re-established after a reconnect.
 * Subscriptions are tracked by filter so callers can see (and tests can assert) what the broker sends us.
 * It does not hold acknowledgements back; the ingest's at-least-once consumer needs its own client.
 */
export class ServiceMqttClient {
  private readonly handlers = new Set<MqttMessageHandler>();
  /** Filters asked for, and whether the broker acknowledged them yet. */
  private readonly filters = new Map<string, { qos: QoS; acknowledged: boolean }>();
  private received = 0;

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.received += 1;
      for (const handler of this.handlers) {
        // One failing handler must not starve the others, nor throw into mqtt.js's read loop.
        try {
          handler(topic, payload);
        } catch {
          // Handlers own their error reporting; this is the last line of defence.
        }
      }
    });
  }

  /**
   * Opens the connection without waiting for it: mqtt.js keeps trying every second, and what is
   * subscribed or published meanwhile is queued and sent once connected. A service that waited here
   * could not start while the broker is down, nor where the broker asks that very service to check
   * logins (mosquitto-go-auth's HTTP backend; docker/compose.yml). `onError` hears every failed attempt.
   */
  static open(options: ServiceMqttClientOptions, onError: (error: Error) => void = () => undefined): ServiceMqttClient {
    const client = mqtt.connect(options.url, {
      clientId: `${options.clientIdPrefix ?? 'lantern'}-${randomUUID()}`,
      username: options.username,
      password: options.password,
      clean: true,
      // MQTT 3.1.1: the embedded aedes broker speaks nothing newer, and nothing here needs MQTT 5.
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      resubscribe: true,
      ...quietMqttLog,
      ...(options.ca && { ca: options.ca }),
    });
    client.on('error', onError);
    keepAliveWhileReceiving(client);
    return new ServiceMqttClient(client);
  }

  /**
   * Opens a role's connection as configured (URL, service credential, trusted CA); `onError` hears
   * each distinct connection error once, until another one replaces it.
   */
  static forRole(
    config: LanternConfig,
    clientIdPrefix: string,
    onError: (error: Error) => void = () => undefined,
  ): ServiceMqttClient {
    let last = '';
    return ServiceMqttClient.open(
      {
        url: brokerUrl(config),
        username: config.mqttUsername,
        password: config.mqttPassword,
        clientIdPrefix,
        ...brokerTrust(config.mqttCaFile),
      },
      (error) => {
        if (error.message !== last) onError(error);
        last = error.message;
      },
    );
  }

  /** Resolves once connected (at once when already connected), or rejects after `timeoutMs`. */
  async whenConnected(timeoutMs = 10_000): Promise<void> {
    if (this.client.connected) return;
    await new Promise<void>((resolve, reject) => {
      const onConnect = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.client.off('connect', onConnect);
        reject(new Error(`MQTT broker did not accept the connection within ${timeoutMs} ms`));
      }, timeoutMs);
      this.client.once('connect', onConnect);
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Messages received since the connection was made (all filters). */
  get receivedCount(): number {
    return this.received;
  }

  /** Filters the broker acknowledged and we have not unsubscribed since. */
  activeFilters(): string[] {
    return [...this.filters].filter(([, f]) => f.acknowledged).map(([filter]) => filter);
  }

  /** Registers a handler for every incoming message; returns a function that removes it. */
  onMessage(handler: MqttMessageHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Subscribes to the filters not yet subscribed; resolves on SUBACK, rejects on a refused filter. */
  async subscribe(filters: readonly string[], qos: QoS = 1): Promise<void> {
    const fresh = filters.filter((f) => !this.filters.has(f));
    if (fresh.length === 0) return;
    const entries = fresh.map((f) => {
      const entry = { qos, acknowledged: false };
      this.filters.set(f, entry);
      return [f, entry] as const;
    });
    try {
      // mqtt.js rejects when the SUBACK carries a failure reason code.
      await this.client.subscribeAsync(fresh, { qos });
      for (const [, entry] of entries) entry.acknowledged = true;
    } catch (error) {
      // Only forget entries still ours: an unsubscribe + subscribe in between replaced them.
      for (const [f, entry] of entries) if (this.filters.get(f) === entry) this.filters.delete(f);
      throw error;
    }
  }

  /** Unsubscribes from the given filters that are subscribed; resolves on UNSUBACK. */
  async unsubscribe(filters: readonly string[]): Promise<void> {
    const known = filters.filter((f) => this.filters.has(f));
    if (known.length === 0) return;
    for (const f of known) this.filters.delete(f);
    // While disconnected mqtt.js queues the packet; the clean session drops the subscription anyway.
    await this.client.unsubscribeAsync(known);
  }

  /** Publishes a UTF-8 JSON or raw payload. */
  async publish(topic: string, payload: string | Buffer, options: { qos?: QoS; retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }

  /** Closes the connection after in-flight packets are sent. */
  async close(): Promise<void> {
    this.handlers.clear();
    this.filters.clear();
    await this.client.endAsync();
  }
}
