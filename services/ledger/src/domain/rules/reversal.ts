import { isLive } from "../balance.js";
import type { AccountState, ChargeRecord } from "../state.js";

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
