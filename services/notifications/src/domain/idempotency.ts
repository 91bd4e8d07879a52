import { createHash } from "node:crypto";
import { IdempotencyKeyReusedError } from "@tollgate/errors";

/**
 * Idempotency of the support changes (ResendNotification, DismissBanner,
 * SetPreferences), after the ledger's rule (services/ledger/src/domain/rules/idempotency.ts):
 * the same key with the same request answers the recorded answer and changes
 * nothing; the same key with another request is ALREADY_EXISTS
 * (IDEMPOTENCY_KEY_REUSED); a call refused with an error records nothing, so
 * its key stays free. An unset or empty key is no key: the change is made every time,
 * as before keys were taken. Keys are per account (the account the request
 * names, or the account of the notification or banner it names), as in the
 * ledger.
 */

/** The spec keeps keys at least a day, whatever is configured. */
export const MIN_RETENTION_MS = 86_400_000;
/** How long keys are kept unless configured (IDEMPOTENCY_RETENTION_HOURS), as in the ledger. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

/** How long keys are kept: the configured time, never less than a day. */
export function retentionMs(configuredMs: number | undefined): number {
  return Math.max(configuredMs ?? DEFAULT_RETENTION_MS, MIN_RETENTION_MS);
}

/** A call under an idempotency key: whose key it is, the key, and what the key is bound to. */
export interface KeyedCall {
  accountId: string;
  key: string;
  /** The RPC, e.g. `resend_notification` (part of the request hash too: a key names one call of one RPC). */
  operation: string;
  requestHash: string;
}

/** What an earlier call recorded under the key. */
export interface KeyRecord {
  requestHash: string;
  response: unknown;
}

/**
 * The hash a key binds to: the operation and every field of the request but
 * its key, in a canonical JSON form (object keys sorted). The request is its
 * proto JSON form, which leaves out fields at their default, so a field added
 * to the request later does not change the hash of requests that leave it empty.
 */
export function requestHash(operation: string, request: Record<string, unknown>): string {
  const { idempotencyKey: _key, ...fields } = request;
  const canonical = JSON.stringify({ op: operation, request: fields }, (_name, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
  return createHash("sha256").update(canonical).digest("hex");
}

/** A repeat of a keyed call: the recorded answer when the request is the same, else IDEMPOTENCY_KEY_REUSED. */
export function recall(record: KeyRecord, call: KeyedCall): unknown {
  if (record.requestHash !== call.requestHash) throw new IdempotencyKeyReusedError(call.key);
  return record.response;
}
