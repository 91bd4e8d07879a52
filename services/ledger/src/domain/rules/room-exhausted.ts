import { roomMicros as roomOf, unitTotals } from "../balance.js";
import { type AccountState, poolsOldestFirst } from "../state.js";

export interface RoomExhausted {
  accountId: string;
  unit: string;
  /** live pools − held + negative limit: the most a charge without a hold may still collect (≤ 0 here). */
  roomMicros: bigint;
}

/**
 * Room exhausted: when a batch took money from a pool of a unit (a pool's
 * balance is lower after it than before) and leaves that unit with nothing
 * beyond what open holds reserve, down to its negative limit
 * (live pools − held + negative limit ≤ 0), listeners are told so at commit
 * (Meter streams stop the streams of that account and unit whose own hold is
 * used up). Decided on the batch's final state, once per unit, so a batch
 * that takes the room and gives it back says nothing.
 */
export function roomExhausted(account: AccountState, balanceBefore: ReadonlyMap<string, bigint>, nowMs: number): RoomExhausted[] {
  const units = new Set<string>();
  for (const pool of poolsOldestFirst(account)) {
    const before = balanceBefore.get(pool.poolId);
    if (before !== undefined && pool.balanceMicros < before) units.add(pool.unit);
  }
  const exhausted: RoomExhausted[] = [];
  for (const unit of units) {
    const limits = account.units.get(unit);
    if (!limits) continue;
    const roomMicros = roomOf(unitTotals(account, unit, nowMs), limits.negativeLimitMicros);
    if (roomMicros <= 0n) exhausted.push({ accountId: account.accountId, unit, roomMicros });
  }
  return exhausted;
}
