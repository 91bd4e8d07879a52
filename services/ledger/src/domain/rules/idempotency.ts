import { createHash } from "node:crypto";
import { invalid, type LedgerError } from "../commands.js";
import type { AccountState, IdempotencyRecord } from "../state.js";
import type { Write } from "../writes.js";

/** The longest idempotency key: the same bound the transport checks first (grpc-kit's request-rules.ts, `*.idempotency_key`). */
export const MAX_KEY_LENGTH = 128;

/** Every mutating call carries a key of 1–128 characters. */
export function checkKey(key: string): LedgerError | null {
  if (!key) return invalid("idempotency_key", "is required on every mutating call");
  if (key.length > MAX_KEY_LENGTH) return invalid("idempotency_key", `must be at most ${MAX_KEY_LENGTH} characters`);
  return null;
}

/**
 * The key of a write the ledger makes on its own for a piece of work (a
 * metering tick, a Meter stream's open, increments, close and release):
 * `meter:<work id>:<step>`. A work id may be as long as any id (128
 * characters), which would make such a key too long to record; then the work
 * id in it is replaced by its SHA-256 (`meter:#<base64url>:<step>`). Keys of
 * shorter ids are as they always were, so work started earlier keeps its
 * keys. (Keys are per account: only the account's own caller could pick a
 * work id that spells another of its work's hashed form.)
 */
export function workKey(workId: string, step: string | number | bigint): string {
  const plain = `meter:${workId}:${step}`;
  if (plain.length <= MAX_KEY_LENGTH) return plain;
  return `meter:#${createHash("sha256").update(workId).digest("base64url")}:${step}`;
}

/**
 * The same key and request answers the recorded answer and writes nothing;
 * the same key with another request is ALREADY_EXISTS
 * (IDEMPOTENCY_KEY_REUSED). Errors record nothing, so the key stays free.
 */
export function recall(account: AccountState, key: string, requestHash: string): { replay: unknown } | { error: LedgerError } | null {
  const record = account.idempotency.get(key);
  if (!record) return null;
  if (record.requestHash !== requestHash) {
    return { error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED", message: `idempotency key ${key} was already used for a different request`, key } };
  }
  return { replay: record.response };
}

export function remember(accountId: string, key: string, operation: string, requestHash: string, response: unknown, atMs: number): Write {
  const record: IdempotencyRecord = { key, operation, requestHash, response, atMs };
  return { type: "idempotency", accountId, record };
}
