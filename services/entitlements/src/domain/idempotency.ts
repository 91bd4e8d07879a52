import { createHash } from "node:crypto";
import { IdempotencyKeyReusedError, InvalidArgumentError } from "@tollgate/errors";

/** The longest idempotency key: the bound the transport checks first (grpc-kit's request-rules.ts, `*.idempotency_key`). */
export const MAX_KEY_LENGTH = 128;

/** A mutating call made under an idempotency key. */
export interface KeyedCall {
  /** Whose keys these are: the account a call changes (`account:<account id>`), or the plan a publish versions (`plan:<plan id>`). */
  scope: string;
  key: string;
  /** The RPC, e.g. `UpdateAccount`: one key answers one operation. */
  operation: string;
  /** SHA-256 of the request without its key (requestHash). */
  requestHash: string;
}

/** What was recorded under a key: the call it answered and its answer. */
export interface IdempotencyRecord {
  operation: string;
  requestHash: string;
  answer: unknown;
}

/**
 * An empty key means the call is not idempotent (as before keys were
 * honoured); a key is at most MAX_KEY_LENGTH characters.
 */
export function checkKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH) throw new InvalidArgumentError("idempotency_key", `must be at most ${MAX_KEY_LENGTH} characters`);
}

/** Object keys sorted at every level, so two encodings of one request (a map's entries in another order) hash alike. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/** The fingerprint of a request (its JSON form, without the key): SHA-256, hex. */
export function requestHash(request: Record<string, unknown>): string {
  const { idempotencyKey: _key, ...rest } = request;
  return createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex");
}

/**
 * The same key and request answers the recorded answer and writes nothing;
 * the same key with another request (or another operation) is
 * ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED), naming the key. A key with no
 * record is free: null. Errors record nothing, so a refused call's key stays
 * free.
 */
export function recall(call: KeyedCall, record: IdempotencyRecord | undefined): { answer: unknown } | null {
  if (!record) return null;
  if (record.operation !== call.operation || record.requestHash !== call.requestHash) throw new IdempotencyKeyReusedError(call.key);
  return { answer: record.answer };
}
