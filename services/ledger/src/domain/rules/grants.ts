import { MICROS_PER_UNIT } from "@tollgate/rating";
import type { AccountState, BatchContext, Pool, PoolKind } from "../state.js";
import type { Write } from "../writes.js";

export interface PoolGrant {
  unit: string;
  kind: PoolKind;
  amountMicros: bigint;
  expiresAtMs: number | null;
  priority: number;
  grantKey: string;
  reason: string;
  actor: string;
  traceId: string;
  onBehalfOf?: string;
  reload: Pool["reload"];
}

/**
 * Whether support may grant or adjust this amount of a unit: any micro-unit
 * of credits or dollars, but only whole tool runs (a run is used whole, so a
 * fraction of one could never be spent, and the console shows runs whole).
 */
export function wholeAmount(unit: string, amountMicros: bigint): boolean {
  return unit !== "tool_runs" || amountMicros % MICROS_PER_UNIT === 0n;
}

export const WHOLE_RUNS_PROBLEM = `must be whole tool runs (a multiple of ${MICROS_PER_UNIT} micro-units): tool runs are whole counts`;

/**
 * The largest a unit's balance may grow to by grants, adjustments and reversals: 10^18
 * micro-units (a trillion credits), beyond any account and far enough below
 * int64's 9.2 × 10^18 that the balances, grants and usage the ledger answers
 * as sums never overflow it. (Each amount is at most 10^15; without this,
 * enough of them overflowed an account's balance, which then could not be
 * read.)
 */
export const MAX_BALANCE_MICROS = 10n ** 18n;

/** Whether adding `addMicros` keeps a unit's balance within MAX_BALANCE_MICROS (a debit always does). */
export const balanceHasRoom = (balanceMicros: bigint, addMicros: bigint): boolean => addMicros <= 0n || balanceMicros + addMicros <= MAX_BALANCE_MICROS;

export function poolByGrantKey(account: AccountState, grantKey: string): Pool | undefined {
  for (const pool of account.pools.values()) if (pool.grantKey === grantKey) return pool;
  return undefined;
}

/**
 * A new pool with its `grant` entry (`grants:` pays). Once per grant key: a
 * key already granted answers its pool and writes nothing.
 */
export function grantPool(account: AccountState, grant: PoolGrant, ctx: BatchContext): { pool: Pool; entryId: bigint; writes: Write[] } {
  const existing = poolByGrantKey(account, grant.grantKey);
  if (existing) return { pool: existing, entryId: 0n, writes: [] };
  const pool: Pool = {
    poolId: ctx.ids.poolId(), accountId: account.accountId, unit: grant.unit, kind: grant.kind, priority: grant.priority,
    expiresAtMs: grant.expiresAtMs, createdAtMs: ctx.nowMs, balanceMicros: grant.amountMicros, grantedMicros: grant.amountMicros,
    closed: false, grantKey: grant.grantKey, reload: grant.reload, reloadedAtMs: null,
    ...(grant.kind === "monthly" ? { allottedMicros: grant.amountMicros } : {}),
  };
  const entryId = ctx.ids.entryId();
  return {
    pool,
    entryId,
    writes: [
      { type: "pool", pool },
      {
        type: "entry",
        entry: {
          entryId, accountId: account.accountId, kind: "grant", unit: grant.unit, holdId: null, bucket: "", amountMicros: grant.amountMicros,
          uncollectedMicros: 0n, attribution: {}, rateTableVersion: 0n, reason: grant.reason, actor: grant.actor, ...(grant.onBehalfOf ? { onBehalfOf: grant.onBehalfOf } : {}), traceId: grant.traceId, atMs: ctx.nowMs,
          lines: [
            { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: grant.amountMicros },
            { ledgerAccount: `grants:${account.accountId}`, poolId: null, amountMicros: -grant.amountMicros },
          ],
        },
      },
    ],
  };
}

/**
 * How much an Adjust of `amountMicros` changes what a pool was given. An
 * Adjust corrects the grant (support taking back a mistaken grant, or adding
 * to one), so `granted_micros` moves with the balance and the cycle's usage
 * (granted less balance, which usage thresholds and the status icon read)
 * stays as it was. It takes back at most what the pool was given: beyond
 * that, the debit counts as usage. A spend-cap pool's grant is the plan's
 * cap, which rollover follows (rules/rollover.ts): an Adjust there changes the
 * room left, as a charge or reversal does, not the cap.
 */
export function adjustedGrant(pool: Pool, amountMicros: bigint): bigint {
  if (pool.kind === "spend_cap") return 0n;
  return amountMicros < -pool.grantedMicros ? -pool.grantedMicros : amountMicros;
}
