import { createHash } from "node:crypto";
import { IdempotencyKeyReusedError, InvalidArgumentError } from "@tollgate/errors";

/**
 * The idempotency rule of the services' keyed writes (entitlements, pricing,
 * notifications; the ledger keeps its own in its state machine): the same key
 * and request answers the recorded answer and changes nothing; the same key
 * with another request (or for another operation) is ALREADY_EXISTS
 * (IDEMPOTENCY_KEY_REUSED); a call refused with an error records nothing, so
 * its key stays free. An empty key is no key: the change is made every time,
 * as before keys were honoured. Pure: the Postgres side is
 * idempotency-store.ts, the transport's answer-once.ts.
 */

/** The longest idempotency key: the bound the transport checks first (grpc-kit's request-rules.ts, `*.idempotency_key`). */
export const MAX_KEY_LENGTH = 128;

/** The spec keeps keys at least a day, whatever is configured. */
export const MIN_RETENTION_MS = 86_400_000;
/** How long keys are kept unless configured (IDEMPOTENCY_RETENTION_HOURS), as in the ledger. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

/** How long keys are kept: the configured time, never less than a day. */
export function retentionMs(configuredMs: number | undefined): number {
  return Math.max(configuredMs ?? DEFAULT_RETENTION_MS, MIN_RETENTION_MS);
}

/** A mutating call made under an idempotency key. */
export interface KeyedCall {
  /** Whose keys these are, as the service names them: `table:<table id>`, `plan:<plan id>`, `account:<account id>`, or a bare account id. */
  scope: string;
  key: string;
  /** The RPC, e.g. `PublishRateTable`: one key answers one operation. */
  operation: string;
  /** The request's fingerprint (requestHash). */
  requestHash: string;
  /** Fingerprints an earlier release recorded for this same request (it fingerprinted more of it): they replay too. */
  earlierHashes?: readonly string[];
}

/** What was recorded under a key: the call it answered and its answer. */
export interface IdempotencyRecord {
  operation: string;
  requestHash: string;
  answer: unknown;
}

/** A key is at most MAX_KEY_LENGTH characters (code points, as the request's edge check counts them: 😀 is one); an empty one means the call is not idempotent. */
export function checkKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH && [...key].length > MAX_KEY_LENGTH) throw new InvalidArgumentError("idempotency_key", `must be at most ${MAX_KEY_LENGTH} characters`);
}

/** Object keys sorted at every level, so two encodings of one request (a map's entries in another order) hash alike. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/**
 * The fingerprint a key binds to: SHA-256 (hex) of the request's JSON form
 * without its key, object keys sorted. The JSON form (proto JSON) leaves out
 * fields at their default, so a field added to a request later does not
 * change the hash of requests that leave it empty. With `operation` the hash
 * is of `{ op, request }`: notifications' keys were recorded so, and a
 * recorded hash must keep matching its request for as long as it is kept.
 */
export function requestHash(request: Record<string, unknown>, operation?: string): string {
  const { idempotencyKey: _key, ...fields } = request;
  const hashed = operation === undefined ? fields : { op: operation, request: fields };
  return createHash("sha256").update(JSON.stringify(canonical(hashed))).digest("hex");
}

/**
 * A key with no record is free: null. The same request and operation answer
 * the record; another request or operation under the key is
 * IDEMPOTENCY_KEY_REUSED, naming the key.
 */
export function recall(call: KeyedCall, record: IdempotencyRecord | undefined): { answer: unknown } | null {
  if (!record) return null;
  const same = record.requestHash === call.requestHash || (call.earlierHashes ?? []).includes(record.requestHash);
  if (record.operation !== call.operation || !same) throw new IdempotencyKeyReusedError(call.key);
  return { answer: record.answer };
}
