import { invalid, type LedgerError } from "../commands.js";
import { cycleAt } from "../cycle.js";

/** A caller's clock may run this far ahead of the ledger's: such an `occurred_at` counts as now. */
export const CLOCK_SKEW_MS = 60_000;

/**
 * How much younger than the key retention late usage must be. A report may
 * say a moment up to CLOCK_SKEW_MS ahead of when its key was recorded; the
 * key is stamped when its transaction began (earlier than the decision by
 * any lock wait, at most a minute: idle transactions are ended then) and
 * pruned by the database's clock, which may differ from the ledger's.
 */
export const LATE_USAGE_MARGIN_MS = 10 * 60_000;

/**
 * Late usage: when a charge says its usage happened earlier (`occurred_at`),
 * the moment must be within the account's current or previous billing cycle
 * and no older than the ledger keeps idempotency keys, less a margin
 * (LATE_USAGE_MARGIN_MS) — a report replayed with the same key is then always
 * recognised, so late usage is never charged twice. It counts in the usage windows and the cycle of that moment; the
 * balance it is paid from and the thresholds it crosses are judged as of now.
 * Answers the moment to record (now for one a little ahead), or why not.
 */
export function occurredAt(requested: Date, now: Date, cycleAnchor: Date, retentionMs: number): { atMs: number } | LedgerError {
  const atMs = requested.getTime();
  if (!Number.isFinite(atMs)) return invalid("occurred_at", "is not a valid time");
  if (atMs > now.getTime() + CLOCK_SKEW_MS) return invalid("occurred_at", `must not be in the future (now is ${now.toISOString()})`);
  const current = cycleAt(cycleAnchor, now);
  const previous = cycleAt(cycleAnchor, new Date(current.start.getTime() - 1));
  if (atMs < previous.start.getTime()) {
    return invalid("occurred_at", `must be within the current or previous billing cycle (from ${previous.start.toISOString()})`);
  }
  const oldestMs = now.getTime() - retentionMs + LATE_USAGE_MARGIN_MS;
  if (atMs < oldestMs) {
    return invalid(
      "occurred_at",
      `must be no older than idempotency keys are kept (${Math.floor(retentionMs / 3_600_000)} hours, less ${LATE_USAGE_MARGIN_MS / 60_000} minutes: from ${new Date(oldestMs).toISOString()}), so a replay cannot charge twice`,
    );
  }
  return { atMs: Math.min(atMs, now.getTime()) };
}
