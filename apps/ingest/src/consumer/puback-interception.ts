import type { AckMode, PubackChannel } from './inflight-messages.js';

/** A PUBLISH as mqtt.js hands it to `handleMessage` (the fields the ingest reads). */
export interface InboundPublish {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly qos?: 0 | 1 | 2;
  readonly messageId?: number;
}

/** A packet mqtt.js sends (the fields the interception reads or writes). */
interface OutboundPacket {
  readonly cmd: string;
  readonly messageId?: number;
  readonly reasonCode?: number;
}

/**
 * The mqtt.js internals taken over, typed here so that this file does not load mqtt.js (only
 * IngestMqttConnection does); see docs/ingest.md ("Acknowledgement design").
 */
interface PatchableClient {
  handleMessage(packet: InboundPublish, callback: (error?: Error) => void): void;
  _sendPacket(packet: OutboundPacket, cb?: (error?: Error) => void, cbStorePut?: () => void, noStore?: boolean): void;
  stream?: { cork?: () => void; uncork?: () => void };
  readonly connected: boolean;
}

export interface PubackInterception {
  readonly mode: AckMode;
  /** Every PUBLISH; `callback` is mqtt.js's (sends the PUBACK, reads the next packet). */
  readonly onPublish: (packet: InboundPublish, callback: (error?: Error) => void) => void;
  /** Held mode: lets mqtt.js read the next packet, now or once there is room (ReadGate). */
  readonly readNext: (read: () => void) => void;
  /** Whether `client` is still the connection's (not stopped): PUBACKs go nowhere else. */
  readonly isCurrent: () => boolean;
}

/**
 * Takes the acknowledgements out of mqtt.js's hands; call before connecting (a resumed session's
 * redeliveries arrive right after CONNACK). Every PUBLISH goes to `onPublish`; in held mode the
 * PUBACK mqtt.js then sends is swallowed and mqtt.js reads on. Returns the channel through which
 * the held PUBACKs are sent once their messages commit (InflightMessages).
 */
export function interceptPubacks(client: object, interception: PubackInterception): PubackChannel {
  const patchable = client as PatchableClient;
  const send = patchable._sendPacket.bind(client);
  patchable.handleMessage = (packet, callback) => interception.onPublish(packet, callback);
  if (interception.mode === 'held') {
    patchable._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd === 'puback') {
        // Not now: OrderedAcks sends it after commit. Let mqtt.js read the next packet (unless paused).
        interception.readNext(() => cb?.());
        return;
      }
      send(packet, cb, cbStorePut, noStore);
    };
  }
  return {
    isOpen: () => interception.isCurrent() && patchable.connected,
    cork: () => patchable.stream?.cork?.(),
    send: (messageId) => send({ cmd: 'puback', messageId, reasonCode: 0 }),
    uncork: () => {
      const stream = patchable.stream;
      if (stream?.uncork) process.nextTick(() => stream.uncork?.());
    },
  };
}
