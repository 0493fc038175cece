import type { Logger } from '@nestjs/common';

/**
 * The part of an mqtt.js client the probe uses, typed here so that this file does not load mqtt.js
 * (only IngestMqttConnection does: the `one-broker-connection-per-process` rule).
 */
export interface ProbeClient {
  once(event: 'connect' | 'close', listener: () => void): unknown;
  once(event: 'error', listener: (error: Error & { code?: number }) => void): unknown;
  on(event: 'error', listener: () => void): unknown;
  removeAllListeners(): unknown;
  end(force: boolean): unknown;
}

/**
 * MQTT 5 where the broker speaks it (needed for shared subscriptions with session expiry); 3.1.1
 * otherwise (aedes refuses a v5 CONNECT). `connectV5` opens a throwaway MQTT 5 connection (a clean
 * session under a client id of its own); retried until the broker answers at all.
 */
export async function detectBrokerProtocol(url: string, connectV5: () => ProbeClient, logger: Logger): Promise<4 | 5> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    const answer = await new Promise<4 | 5 | Error>((resolve) => {
      const probe = connectV5();
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
    logger.warn(`Broker ${url} not ready (${answer.message}); retrying in ${delay} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
