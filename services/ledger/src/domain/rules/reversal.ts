import { isLive, maxBigint, minBigint, pastExpiry } from "../balance.js";
import type { AccountState, ChargeRecord, EntryKind, Pool } from "../state.js";

/**
 * Reversing a charge: every pool it drew from gets back what it gave, and the
 * usage is taken off its bucket, in one compensating `reverse` entry. A
 * charge is reversed at most once. A pool that has closed or expired since
 * cannot take its share back (the credits would be dead on arrival): the
 * reversal is refused, naming the pool, and support grants instead.
 * `returns` also says how much of each share counts as given again
 * (`regranted`).
 */
export function reversal(account: AccountState, charge: ChargeRecord, nowMs: number): { error: { reason: string; message: string } } | { returns: Returned[] } {
  if (charge.reversedByEntryId !== null) {
    return { error: { reason: "ALREADY_REVERSED", message: `entry ${charge.entryId} was already reversed by entry ${charge.reversedByEntryId}` } };
  }
  const returns: Returned[] = [];
  for (const [poolId, micros] of charge.drawnMicros) {
    const pool = account.pools.get(poolId);
    // Past its expiry, a pool that owes is open for its debt alone: it takes back at most what it owes.
    if (!pool || !isLive(pool, nowMs) || (pastExpiry(pool, nowMs) && pool.balanceMicros + micros > 0n)) {
      return { error: { reason: "POOL_CLOSED", message: `pool ${poolId} that entry ${charge.entryId} drew from has closed; grant the credits instead` } };
    }
    if (micros !== 0n) returns.push({ poolId, micros, grantedMicros: regranted(account, pool, charge, micros) });
  }
  return { returns };
}

export interface Returned {
  poolId: string;
  micros: bigint;
  /** What of `micros` the pool counts as given (its `granted_micros` moves by it), not as usage undone. */
  grantedMicros: bigint;
}

/**
 * A pool carried over started the current cycle with its balance as what it
 * was given (rules/rollover.ts carryIntoCycle), so this cycle's usage of it is
 * granted less balance. A charge made before the cycle was opened (the
 * rollover is lazy: a metering tick after the cycle's start still charges the
 * old one) is not this cycle's usage: what a reversal gives back for it is
 * given again, as granted. Whatever the times, a carried pool's usage does
 * not go below zero: what a reversal returns beyond it counts as granted too.
 */
function regranted(account: AccountState, pool: Pool, charge: ChargeRecord, micros: bigint): bigint {
  const cycle = account.cycle;
  if (cycle && charge.atMs < Math.max(cycle.startMs, cycle.openedAtMs ?? cycle.startMs)) return micros;
  if (pool.kind === "monthly" || pool.kind === "spend_cap") return 0n;
  const beyondUsage = pool.balanceMicros + micros - pool.grantedMicros;
  return minBigint(maxBigint(beyondUsage, 0n), micros);
}

/**
 * The charge a reversal names. Only a charge is reversed: a grant, an
 * adjustment or an expiry is corrected with an adjustment, and a reversal is
 * final.
 */
export function reversedCharge(account: AccountState, entryId: bigint): { error: { reason: string; message: string } } | { charge: ChargeRecord } {
  const charge = account.charges.get(String(entryId));
  if (charge) return { charge };
  const kind = account.otherEntries.get(String(entryId));
  if (kind === undefined) throw new Error(`entry ${entryId} was named but not read`); // the command's found() check comes first
  return { error: { reason: "NOT_A_CHARGE", message: `entry ${entryId} is ${ENTRY_NAMES[kind]}, not a charge: only charges are reversed (an adjustment corrects the others)` } };
}

const ENTRY_NAMES: Record<EntryKind, string> = {
  grant: "a grant", charge: "a charge", adjust: "an adjustment", expire: "an expiry", reset: "a cycle reset", reverse: "a reversal",
};
