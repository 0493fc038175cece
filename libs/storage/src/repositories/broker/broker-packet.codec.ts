/*
 * How the embedded broker's packets are stored: every field but the payload as JSON text, the
 * payload as bytes. Shared by the repositories of each kind of broker state.
 */

/**
 * A packet as aedes hands it to a persistence: a PUBLISH (payload a Buffer, or a string when a
 * caller published one), a PUBREL, or a will. Fields beyond the named ones (brokerId, brokerCounter,
 * clientId, MQTT 5 properties, …) are kept as they are.
 */
export interface BrokerPacket {
  [field: string]: unknown;
  cmd?: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
}

/** A packet as stored: its fields as JSON text and its payload as bytes (see {@link encodeBrokerPacket}). */
export interface EncodedPacket {
  readonly json: string;
  readonly payload: Buffer | null;
  readonly payloadIsText: boolean;
}

/** The columns every table of packets has. */
export interface BrokerPacketRow {
  readonly packet: string;
  readonly payload: Buffer | null;
  readonly payload_is_text: boolean;
}

// Markers in the stored JSON: a Buffer inside a packet (MQTT 5 correlation data, say) and a field
// whose value is undefined (aedes-packet's `messageId: undefined`), which JSON would drop.
const BUFFER = '$lanternBuffer';
const UNDEFINED = '$lanternUndefined';

/** Encodes a packet for storage: the payload goes to a bytea column as it is, the rest to JSON. */
export function encodeBrokerPacket(packet: BrokerPacket): EncodedPacket {
  const { payload, ...fields } = packet;
  const json = JSON.stringify(fields, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (Buffer.isBuffer(raw)) return { [BUFFER]: raw.toString('base64') };
    if (raw === undefined && this === fields && key !== '') return { [UNDEFINED]: true };
    return value;
  });
  if (payload === undefined || payload === null) return { json, payload: null, payloadIsText: false };
  return typeof payload === 'string'
    ? { json, payload: Buffer.from(payload, 'utf8'), payloadIsText: true }
    : { json, payload, payloadIsText: false };
}

/** The inverse of {@link encodeBrokerPacket}. */
export function decodeBrokerPacket(json: string, payload: Buffer | null, payloadIsText: boolean): BrokerPacket {
  const packet = JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && BUFFER in value)
      return Buffer.from((value as Record<string, string>)[BUFFER], 'base64');
    return value;
  }) as BrokerPacket;
  // A reviver cannot put an undefined value back (returning undefined deletes the field).
  for (const [key, value] of Object.entries(packet)) {
    if (value !== null && typeof value === 'object' && UNDEFINED in value) packet[key] = undefined;
  }
  if (payload !== null) packet.payload = payloadIsText ? payload.toString('utf8') : payload;
  return packet;
}

/** Decodes the packet of a stored row. */
export function decodeBrokerPacketRow(row: BrokerPacketRow): BrokerPacket {
  return decodeBrokerPacket(row.packet, row.payload, row.payload_is_text);
}
