import type { AccountState, BatchContext } from "../state.js";
import type { Write } from "../writes.js";

/**
 * Pools past their expiry close with an `expire` entry (their balance goes
 * back to `grants:`) and a `pool_expired` event. The cycle's own pools
 * (`monthly`, `spend_cap`) are closed by rollover instead. Run before any
 * write on the account and by the sweeper.
 */
export function expirePools(account: AccountState, { nowMs, ids }: BatchContext): Write[] {
  const writes: Write[] = [];
  const due = [...account.pools.values()]
    .filter((p) => !p.closed && p.kind !== "monthly" && p.kind !== "spend_cap" && p.expiresAtMs !== null && p.expiresAtMs <= nowMs)
    .sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0));
  for (const pool of due) {
    const balance = pool.balanceMicros;
    writes.push(
      {
        type: "entry",
        entry: {
          entryId: ids.entryId(), accountId: account.accountId, kind: "expire", unit: pool.unit, holdId: null, bucket: "",
          amountMicros: balance, uncollectedMicros: 0n, attribution: {}, rateTableVersion: 0n, reason: "pool expired", actor: "system", traceId: "", atMs: nowMs,
          lines: balance === 0n ? [] : [
            { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: -balance },
            { ledgerAccount: `grants:${account.accountId}`, poolId: null, amountMicros: balance },
          ],
        },
      },
      { type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: -balance, grantedDeltaMicros: 0n, closed: true },
      {
        type: "outbox",
        event: { accountId: account.accountId, kind: "pool_expired", traceparent: "", payload: { pool_id: pool.poolId, kind: pool.kind, unit: pool.unit, expired_micros: balance.toString() } },
      },
    );
  }
  return writes;
}
