import { createHash } from "node:crypto";
import { invalid, type LedgerError } from "../commands.js";
import type { AccountState, IdempotencyRecord } from "../state.js";
import type { Write } from "../writes.js";

/** The longest idempotency key: the same bound the transport checks first (grpc-kit's request-rules.ts, `*.idempotency_key`). */
export const MAX_KEY_LENGTH = 128;

/**
 * The prefix of the keys the ledger makes for its own writes ({@link workKey}):
 * a caller's key may not start with it, or it could take the place of a
 * metering tick's or a Meter stream's write (a Charge keyed `meter:w1:1`
 * would answer, ALREADY_EXISTS, the first increment of w1's stream).
 */
export const RESERVED_KEY_PREFIX = "meter:";

/** Who chose a command's key: the caller (every RPC's key), or the ledger for a piece of work ({@link workKey}). */
export type KeyOwner = "caller" | "ledger";

/**
 * Every mutating call carries a key of 1–128 characters; a caller's may not
 * start with {@link RESERVED_KEY_PREFIX}. The one check of a key, for every
 * keyed RPC: the state machine's keyed commands and work calls, and the
 * metered-work calls that check it before looking their work up.
 */
export function checkKey(key: string, owner: KeyOwner = "caller"): LedgerError | null {
  if (!key) return invalid("idempotency_key", "is required on every mutating call");
  // Characters are code points, as the request's edge check counts them (😀 is one, two UTF-16 units).
  if (key.length > MAX_KEY_LENGTH && [...key].length > MAX_KEY_LENGTH) return invalid("idempotency_key", `must be at most ${MAX_KEY_LENGTH} characters`);
  if (owner === "caller" && key.startsWith(RESERVED_KEY_PREFIX)) {
    return invalid("idempotency_key", `must not start with "${RESERVED_KEY_PREFIX}": such keys are the ledger's own (a Meter stream's and metered work's writes)`);
  }
  return null;
}

/**
 * The key of a write the ledger makes on its own for a piece of work (a
 * metering tick, a Meter stream's open, increments, close and release):
 * `meter:<work id>:<step>` (RESERVED_KEY_PREFIX: a caller's key may not
 * start so). A work id may be as long as any id (128 characters), which
 * would make such a key too long to record; then the work
 * id in it is replaced by its SHA-256 (`meter:#<base64url>:<step>`). Keys of
 * shorter ids are as they always were, so work started earlier keeps its
 * keys. (Keys are per account: only the account's own caller could pick a
 * work id that spells another of its work's hashed form.)
 */
export function workKey(workId: string, step: string | number | bigint): string {
  const plain = `${RESERVED_KEY_PREFIX}${workId}:${step}`;
  if (plain.length <= MAX_KEY_LENGTH) return plain;
  return `${RESERVED_KEY_PREFIX}#${createHash("sha256").update(workId).digest("base64url")}:${step}`;
}

/**
 * The same key and request answers the recorded answer and writes nothing;
 * the same key with another request is ALREADY_EXISTS
 * (IDEMPOTENCY_KEY_REUSED). Errors record nothing, so the key stays free.
 */
export function recall(account: AccountState, key: string, requestHash: string): { replay: unknown } | { error: LedgerError } | null {
  const record = account.idempotency.get(key);
  if (!record) return null;
  if (record.requestHash !== requestHash) return { error: keyReused(key) };
  return { replay: record.response };
}

/** ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED): the key was used with another request. */
export function keyReused(key: string): LedgerError {
  return { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED", message: `idempotency key ${key} was already used for a different request`, key };
}

export function remember(accountId: string, key: string, operation: string, requestHash: string, response: unknown, atMs: number): Write {
  const record: IdempotencyRecord = { key, operation, requestHash, response, atMs };
  return { type: "idempotency", accountId, record };
}
