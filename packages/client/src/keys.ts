import { createHash, randomBytes } from "node:crypto";

/** The longest idempotency key the ledger accepts. */
export const MAX_KEY_LENGTH = 128;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so
 * keys sort by creation time (friendly to the ledger's key index and easy to
 * search for in the console).
 */
export function uuidv7(nowMs: number = Date.now(), random: Uint8Array = randomBytes(10)): string {
  const bytes = new Uint8Array(16);
  let ms = BigInt(Math.max(0, Math.floor(nowMs)));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = Number(ms & 0xffn);
    ms >>= 8n;
  }
  bytes.set(random.subarray(0, 10), 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 10
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The idempotency key of one step of a piece of work, e.g. `reply-42/charge/3`:
 * the same work key and step always give the same key, so a caller that
 * retries the work (after a crash, or in another process) never charges a
 * step twice. A work key too long to fit is replaced by its SHA-256.
 */
export function stepKey(workKey: string, step: string): string {
  if (!workKey) throw new TypeError("a work key is required");
  const key = `${workKey}/${step}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${createHash("sha256").update(workKey).digest("hex")}/${step}`;
}
