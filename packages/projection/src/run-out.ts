/**
 * The run-out projection (seed 002): one rule for the ledger's GetBalance
 * (`will_run_out_before_cycle_end`, `run_out_at`, the console's "Run out in")
 * and for notifications' run-out warning (banner and webhook). Plain data in,
 * plain data out: no clock, no I/O.
 */

/** What the ledger knows of a unit's usage in the current cycle. */
export interface UsageHistory {
  cycleEnd: Date;
  /** What is left to run out of (balance − held). */
  availableMicros: bigint;
  /** What the cycle's charges drew. */
  usedMicros: bigint;
  /** Charges in this cycle that drew more than zero. */
  usageEvents: number;
  /** When the first of them was made (usage reported late counts when it happened). */
  firstUsageAt: Date | undefined;
}

/** The history a projection needs: usage observed over at least a day, in at least five charges. */
export const RUN_OUT_MIN_SPAN_MS = 86_400_000;
export const RUN_OUT_MIN_EVENTS = 5;

/** Whether the history is long enough to project from (see {@link projectRunOut}). */
export function enoughHistory(history: Pick<UsageHistory, "usageEvents" | "firstUsageAt">, now: Date): boolean {
  return history.firstUsageAt !== undefined && history.usageEvents >= RUN_OUT_MIN_EVENTS && now.getTime() - history.firstUsageAt.getTime() >= RUN_OUT_MIN_SPAN_MS;
}

/**
 * The latest run-out a projection names: a balance that would last longer at
 * its rate (a large balance and a trickle of use) is projected to last until
 * then. It is the latest time Tollgate's requests and answers carry, and far
 * inside what a Date holds, which a projection of millions of years is not.
 */
export const LATEST_RUN_OUT = new Date("2200-01-01T00:00:00Z");

/**
 * When the balance runs out at the current rate. With enough history (the
 * cycle's first charge at least RUN_OUT_MIN_SPAN_MS ago and at least
 * RUN_OUT_MIN_EVENTS charges that drew something) the rate is what was used
 * divided by the time since the first charge, and the balance runs out at
 * now + available ÷ rate (integer arithmetic, to the millisecond), at the
 * latest LATEST_RUN_OUT. Undefined without enough history, without usage, or
 * with nothing left (the thresholds have said so).
 */
export function runOutAt(history: UsageHistory, now: Date): Date | undefined {
  const { firstUsageAt, usedMicros, availableMicros } = history;
  if (!firstUsageAt || !enoughHistory(history, now) || usedMicros <= 0n || availableMicros <= 0n) return undefined;
  const spanMs = BigInt(now.getTime() - firstUsageAt.getTime());
  const atMs = BigInt(now.getTime()) + (availableMicros * spanMs) / usedMicros;
  return new Date(Number(atMs < BigInt(LATEST_RUN_OUT.getTime()) ? atMs : BigInt(LATEST_RUN_OUT.getTime())));
}

/** {@link runOutAt} when it falls before the cycle ends (the warning), else undefined. */
export function projectRunOut(history: UsageHistory, now: Date): Date | undefined {
  const at = runOutAt(history, now);
  return at && at < history.cycleEnd ? at : undefined;
}
