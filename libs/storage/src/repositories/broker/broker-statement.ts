import type { EncodedPacket } from './broker-packet.codec.js';

/**
 * The one statement a flush of the broker's state is written in: each kind of state adds its
 * data-modifying parts and their bind parameters (arrays, so one part writes any number of rows),
 * and {@link sql} joins the parts as CTEs. Atomic without a BEGIN/COMMIT round trip, and one commit
 * (one WAL flush) for however many changes the flush gathered.
 */
export class BrokerStatement {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];

  /** Adds a bind parameter; returns its placeholder, cast to `type`. */
  param(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.params.length}::${type}`;
  }

  /** The three array parameters of a list of packets: JSON fields, payloads and whether each payload is text. */
  packets(list: readonly { packet: EncodedPacket }[]): string {
    return [
      this.param(
        list.map((item) => item.packet.json),
        'text[]',
      ),
      this.param(
        list.map((item) => item.packet.payload),
        'bytea[]',
      ),
      this.param(
        list.map((item) => item.packet.payloadIsText),
        'boolean[]',
      ),
    ].join(', ');
  }

  add(part: string): void {
    this.parts.push(part);
  }

  /**
   * The parts as one statement (undefined when there is none). The CTEs all see the same snapshot,
   * which is safe because a key appears in one list of a change set only.
   */
  sql(): string | undefined {
    const { parts } = this;
    if (parts.length === 0) return undefined;
    return parts.length === 1
      ? parts[0]
      : `WITH ${parts
          .slice(0, -1)
          .map((part, i) => `w${i} AS (${part})`)
          .join(',\n')}\n${parts[parts.length - 1]}`;
  }
}
