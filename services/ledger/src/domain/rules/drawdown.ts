import { maxBigint, minBigint } from "../balance.js";
import type { Pool } from "../state.js";

/**
 * Draw-down order: the cycle's pool first (`monthly`, or `spend_cap` for a
 * BYOM account's USD), then the plan's order of kinds (kinds it does not name
 * last), then the lower priority number, then the pool that expires first
 * (expiring before non-expiring), then the oldest.
 */
export function drawdownOrder(pools: readonly Pool[], planOrder: readonly string[]): Pool[] {
  const rank = (kind: string) => {
    const at = planOrder.indexOf(kind);
    return at < 0 ? planOrder.length : at;
  };
  const cyclePool = (p: Pool) => (p.kind === "monthly" || p.kind === "spend_cap" ? 0 : 1);
  return [...pools].sort(
    (a, b) =>
      cyclePool(a) - cyclePool(b) ||
      rank(a.kind) - rank(b.kind) ||
      a.priority - b.priority ||
      (a.expiresAtMs ?? Infinity) - (b.expiresAtMs ?? Infinity) ||
      a.createdAtMs - b.createdAtMs ||
      (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0),
  );
}

export interface Draw {
  poolId: string;
  /** Positive: what leaves the pool. */
  takeMicros: bigint;
}

/**
 * Splits an amount over pools in draw-down order: each pool gives what it
 * has (a pool at or below zero gives nothing); what is left is an overdraft
 * carried by the first pool in order (the next cycle's allotment pays it),
 * added to that pool's draw, so each pool appears once. Null when there is
 * an overdraft and no pool to carry it.
 */
export function drawDown(ordered: readonly Pool[], amountMicros: bigint): Draw[] | null {
  const draws = new Map<string, bigint>();
  let left = amountMicros;
  for (const pool of ordered) {
    if (left === 0n) break;
    const take = minBigint(left, maxBigint(pool.balanceMicros, 0n));
    if (take > 0n) {
      draws.set(pool.poolId, take);
      left -= take;
    }
  }
  if (left > 0n) {
    const first = ordered[0];
    if (!first) return null;
    draws.set(first.poolId, (draws.get(first.poolId) ?? 0n) + left);
  }
  // Lines in draw-down order.
  return ordered.filter((p) => draws.has(p.poolId)).map((p) => ({ poolId: p.poolId, takeMicros: draws.get(p.poolId)! }));
}
