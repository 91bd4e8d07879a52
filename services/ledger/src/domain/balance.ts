import type { AccountState, Pool } from "./state.js";

/**
 * Balance arithmetic, once. A pool counts while it is open and not past its
 * expiry; a unit's balance is the sum of its live pools; what is available is
 * the balance less what open holds reserve.
 */
export function isLive(pool: Pool, nowMs: number): boolean {
  return !pool.closed && (pool.expiresAtMs === null || pool.expiresAtMs > nowMs);
}

export function livePools(account: AccountState, unit: string, nowMs: number): Pool[] {
  const pools: Pool[] = [];
  for (const pool of account.pools.values()) if (pool.unit === unit && isLive(pool, nowMs)) pools.push(pool);
  return pools;
}

export interface UnitTotals {
  /** Sum of the live pools' balances. */
  balanceMicros: bigint;
  /** Sum of what was granted into the live pools (the allotment thresholds are measured against). */
  grantedMicros: bigint;
  heldMicros: bigint;
  /** balance − held. */
  availableMicros: bigint;
}

export function unitTotals(account: AccountState, unit: string, nowMs: number): UnitTotals {
  let balanceMicros = 0n;
  let grantedMicros = 0n;
  for (const pool of livePools(account, unit, nowMs)) {
    balanceMicros += pool.balanceMicros;
    grantedMicros += pool.grantedMicros;
  }
  const heldMicros = account.units.get(unit)?.heldMicros ?? 0n;
  return { balanceMicros, grantedMicros, heldMicros, availableMicros: balanceMicros - heldMicros };
}

export function minBigint(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBigint(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
