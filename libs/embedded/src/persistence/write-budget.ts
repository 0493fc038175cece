import type { EncodedPacket } from '@lantern/storage';

/**
 * Bytes of packets one statement carries at most (payloads travel hex-encoded in arrays, twice
 * this): a burst of large PUBLISHes is written in several statements, not one that exhausts memory.
 * What does not fit goes in the next statement, right after.
 */
export const MAX_WRITE_BYTES = 8 * 1024 * 1024;

/** The bytes of packets one write may still carry (see {@link MAX_WRITE_BYTES}). */
export class WriteBudget {
  private left = MAX_WRITE_BYTES;

  /** Whether `packet` still fits in this statement (the first one always does). */
  fits(packet: EncodedPacket): boolean {
    if (this.left <= 0) return false;
    this.left -= packet.json.length + (packet.payload?.length ?? 0);
    return true;
  }
}
