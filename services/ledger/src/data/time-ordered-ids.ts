import { randomBytes } from "node:crypto";

/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit
 * counter that keeps ids made in one millisecond in the order they were made
 * (method 1 of the RFC's monotonicity), then random bits. Pools and holds
 * take these ids so that "oldest first", the draw-down order's last
 * tie-break, holds between pools a batch created in the same millisecond.
 */
export class TimeOrderedIds {
  private lastMs = 0;
  private counter = 0;

  next(nowMs: number = Date.now()): string {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.counter = 0;
    } else if (++this.counter > 0xfff) {
      // 4,096 ids in one millisecond: borrow the next one rather than repeat an order.
      this.lastMs += 1;
      this.counter = 0;
    }
    const bytes = randomBytes(16);
    bytes.writeUIntBE(this.lastMs, 0, 6);
    bytes[6] = 0x70 | (this.counter >> 8);
    bytes[7] = this.counter & 0xff;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = bytes.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
