import type { AccountState, Pool } from "./state.js";

/**
 * Balance arithmetic, once. A pool counts while it is open and not past its
 * expiry, or past it while it owes (a negative balance: a debt does not
 * expire with its pool; rules/pool-expiry.ts moves it to a pool that lives
 * on); a unit's balance is the sum of its live pools; what is available is
 * the balance less what open holds reserve.
 */
export function isLive(pool: Pick<Pool, "closed" | "expiresAtMs" | "balanceMicros">, nowMs: number): boolean {
  return !pool.closed && (!pastExpiry(pool, nowMs) || pool.balanceMicros < 0n);
}

export function pastExpiry(pool: Pick<Pool, "expiresAtMs">, nowMs: number): boolean {
  return pool.expiresAtMs !== null && pool.expiresAtMs <= nowMs;
}

export function livePools(account: AccountState, unit: string, nowMs: number): Pool[] {
  const pools: Pool[] = [];
  for (const pool of account.pools.values()) if (pool.unit === unit && isLive(pool, nowMs)) pools.push(pool);
  return pools;
}

export interface UnitTotals {
  /** Sum of the live pools' balances. */
  balanceMicros: bigint;
  /** Sum of what was granted into the live pools not past their expiry (the allotment thresholds are measured against). */
  grantedMicros: bigint;
  heldMicros: bigint;
  /** balance − held. */
  availableMicros: bigint;
}

export function unitTotals(account: AccountState, unit: string, nowMs: number): UnitTotals {
  return totalsOf(livePools(account, unit, nowMs), account.units.get(unit)?.heldMicros ?? 0n, nowMs);
}

/** The pool figures the totals need: the state machine's pools, or pools as a read model holds them. */
export type PoolFigures = Pick<Pool, "closed" | "expiresAtMs" | "balanceMicros" | "grantedMicros">;

/** A unit's totals from its pools (those not live are left out) and what its open holds reserve. */
export function totalsOf(pools: readonly PoolFigures[], heldMicros: bigint, nowMs: number): UnitTotals {
  let balanceMicros = 0n;
  let grantedMicros = 0n;
  for (const pool of pools) {
    if (!isLive(pool, nowMs)) continue;
    balanceMicros += pool.balanceMicros;
    // A pool past its expiry counts for its debt alone: what it was given is gone, what it owes is usage.
    if (!pastExpiry(pool, nowMs)) grantedMicros += pool.grantedMicros;
  }
  return { balanceMicros, grantedMicros, heldMicros, availableMicros: balanceMicros - heldMicros };
}

/** What a unit can still pay before its negative limit: available plus the limit. */
export function roomMicros(totals: UnitTotals, negativeLimitMicros: bigint): bigint {
  return totals.availableMicros + negativeLimitMicros;
}

export function minBigint(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBigint(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** The largest int64: what the API and the database carry. */
export const INT64_MAX = 2n ** 63n - 1n;

/**
 * A running sum held to int64, saturated at its largest value: amounts each
 * within their bounds (a charge up to 10^15) can add up past it over time,
 * and what carries the sum (a budget's use, a report) must still work.
 * data/usage-views.ts `saturatedSum` is the same rule for sums made in SQL.
 */
export function saturated(sum: bigint): bigint {
  return sum > INT64_MAX ? INT64_MAX : sum;
}
