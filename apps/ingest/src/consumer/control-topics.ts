import type { Logger } from '@nestjs/common';

/**
 * The unshared topics the ingest hears besides the devices' (the api's internal events), by topic.
 * Every instance gets each message; it is acknowledged in its turn without waiting for its handler's
 * work, so a control message never holds a device message's PUBACK.
 */
export class ControlTopics {
  private readonly handlers = new Map<string, (payload: Buffer) => void>();

  constructor(private readonly logger: Logger) {}

  /** The control topics, to subscribe to alongside the device topics. */
  get topics(): IterableIterator<string> {
    return this.handlers.keys();
  }

  /** Registers `handler` (which must not throw) for `topic`; before the connection starts. */
  add(topic: string, handler: (payload: Buffer) => void): void {
    this.handlers.set(topic, handler);
  }

  /** A control message handed to its handler. Returns false for any other topic. */
  deliver(topic: string, payload: Buffer): boolean {
    const handler = this.handlers.get(topic);
    if (!handler) return false;
    try {
      handler(payload);
    } catch (error) {
      // A handler's bug must not reach mqtt.js: the message is acknowledged in its turn all the same.
      this.logger.error(`Handling ${topic} failed: ${(error as Error).message}`);
    }
    return true;
  }
}
