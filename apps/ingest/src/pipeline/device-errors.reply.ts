import type { Logger } from '@nestjs/common';
import { deviceErrorsMessage, type BrokerPublisher, type Rejection, type Topics } from '@lantern/messaging';

/**
 * Tells a device what was refused from one of its messages, on its errors topic (QoS 1, best
 * effort: a reply that cannot be sent is logged at debug level and forgotten). Device ids that
 * cannot be a topic level (wildcards, U+0000) get no reply.
 */
export class DeviceErrorsReply {
  constructor(
    private readonly broker: BrokerPublisher,
    private readonly topics: Topics,
    private readonly logger: Logger,
  ) {}

  /** Replies to `deviceId` with `rejections` of its message `seq`. */
  send(deviceId: string | undefined, seq: number | undefined, rejections: readonly Rejection[]): void {
    if (deviceId === undefined || /[+#\u0000]/.test(deviceId)) return;
    this.broker.publish(
      this.topics.errors(deviceId),
      JSON.stringify(deviceErrorsMessage(seq, rejections)),
      { qos: 1 },
      (error) => {
        if (error) this.logger.debug(`Errors reply to ${deviceId} not sent: ${error.message}`);
      },
    );
  }
}
