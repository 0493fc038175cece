import type { Logger } from '@nestjs/common';

/** Publishes on the ingest's connection (QoS 1); `callback` says whether the broker took it. */
export type CanaryPublish = (topic: string, payload: string, callback: (error?: Error) => void) => void;

/** What the canary has proved so far (see ConnectionHealth). */
export interface CanaryState {
  readonly lastCanaryAt: number | null;
  readonly canaryRoundTripMs: number | null;
  readonly canarySince: number;
}

/**
 * The instance's canary: a message it publishes every INGEST_CANARY_INTERVAL_MS on its own unshared
 * topic and expects back through its own subscription. Being connected and subscribed is not proof
 * that messages arrive (a broker may accept a subscription and deliver nothing); a returning canary is.
 */
export class IngestCanary {
  private lastCanaryAt: number | null = null;
  private canaryRoundTripMs: number | null = null;
  private canarySince = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The instance's canary topic (`topicsFor(root).ingestCanary(client id)`). */
    readonly topic: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  get state(): CanaryState {
    return {
      lastCanaryAt: this.lastCanaryAt,
      canaryRoundTripMs: this.canaryRoundTripMs,
      canarySince: this.canarySince,
    };
  }

  /** Sends one now and then one per interval; `connected` false skips a beat rather than queueing it. */
  start(connected: () => boolean, publish: CanaryPublish): void {
    const send = (): void => {
      if (!connected()) return;
      publish(this.topic, JSON.stringify({ sentAt: Date.now() }), (error) => {
        if (error) this.logger.debug(`Canary not published: ${error.message}`);
      });
    };
    this.canarySince = Date.now();
    this.timer = setInterval(send, this.intervalMs);
    this.timer.unref();
    send();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A canary came back: the subscription delivers. Returns false for any other topic. */
  received(topic: string, payload: Buffer, receivedAt: number): boolean {
    if (topic !== this.topic) return false;
    this.lastCanaryAt = receivedAt;
    try {
      const { sentAt } = JSON.parse(payload.toString()) as { sentAt?: unknown };
      if (typeof sentAt === 'number') this.canaryRoundTripMs = Math.max(0, receivedAt - sentAt);
    } catch {
      // Not our canary's shape: it still proves delivery.
    }
    return true;
  }
}
