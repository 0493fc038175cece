import mqtt, { type MqttClient } from 'mqtt';

/*
 * The fuzz run's device connections: one MQTT client per device (client id = device id), publishing
 * at QoS 1 through a window of unacknowledged messages so a storm cannot outrun the broker unbounded.
 */

/** A device connection that publishes at QoS 1 with at most `window` unacknowledged messages. */
export class WindowedPublisher {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly client: MqttClient,
    private readonly window: number,
  ) {}

  /** Resolves once the message is handed to mqtt.js; `done` follows its PUBACK (or failure). */
  async send(topic: string, payload: Buffer | string, done: (error?: Error) => void): Promise<void> {
    while (this.inFlight >= this.window) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    this.client.publish(topic, payload, { qos: 1 }, (error) => {
      this.inFlight--;
      this.waiting.shift()?.();
      done(error ?? undefined);
    });
  }

  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}

/** Connects as the device (anonymous brokers ignore the password). */
export function connectDevice(url: string, deviceId: string): Promise<MqttClient> {
  // A device's client id is its id (Lantern's broker hooks refuse any other); anonymous brokers ignore the password.
  return mqtt.connectAsync(url, {
    clientId: deviceId,
    username: deviceId,
    password: 'fuzz',
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
}
