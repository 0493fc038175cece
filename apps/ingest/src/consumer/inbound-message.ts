import type { PendingMessage } from './pending-message.js';

/** A message handed to the pipeline. The pipeline must hold/release/seal `pending` and never throw. */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly receivedAt: number;
  readonly pending: PendingMessage;
}
