import { isLive } from "../balance.js";
import type { AccountState, ChargeRecord, EntryKind } from "../state.js";

/**
 * Reversing a charge: every pool it drew from gets back what it gave, and the
 * usage is taken off its bucket, in one compensating `reverse` entry. A
 * charge is reversed at most once. A pool that has closed or expired since
 * cannot take its share back (the credits would be dead on arrival): the
 * reversal is refused, naming the pool, and support grants instead.
 */
export function reversal(account: AccountState, charge: ChargeRecord, nowMs: number): { error: { reason: string; message: string } } | { returns: [poolId: string, micros: bigint][] } {
  if (charge.reversedByEntryId !== null) {
    return { error: { reason: "ALREADY_REVERSED", message: `entry ${charge.entryId} was already reversed by entry ${charge.reversedByEntryId}` } };
  }
  const returns: [string, bigint][] = [];
  for (const [poolId, micros] of charge.drawnMicros) {
    const pool = account.pools.get(poolId);
    if (!pool || !isLive(pool, nowMs)) return { error: { reason: "POOL_CLOSED", message: `pool ${poolId} that entry ${charge.entryId} drew from has closed; grant the credits instead` } };
    if (micros !== 0n) returns.push([poolId, micros]);
  }
  return { returns };
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
