import { type AccountState, type BatchContext, traceOf } from "../state.js";
import type { Write } from "../writes.js";

/**
 * Pools past their expiry close with an `expire` entry (their balance goes
 * back to `grants:`) and a `pool_expired` event. The cycle's own pools
 * (`monthly`, `spend_cap`) are closed by rollover instead. Run before any
 * write on the account and by the sweeper. Several due at once close in the
 * order they expired, the oldest first.
 */
const compare = <T extends string | number>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

export function expirePools(account: AccountState, ctx: BatchContext): Write[] {
  const { nowMs, ids } = ctx;
  const { traceId, traceparent } = traceOf(ctx);
  const writes: Write[] = [];
  const due = [...account.pools.values()]
    .filter((p) => !p.closed && p.kind !== "monthly" && p.kind !== "spend_cap" && p.expiresAtMs !== null && p.expiresAtMs <= nowMs)
    // In the order they expired (then the oldest first): the journal does not depend on how a store names pools or reads them.
    .sort((a, b) => compare(a.unit, b.unit) || compare(a.expiresAtMs!, b.expiresAtMs!) || compare(a.createdAtMs, b.createdAtMs) || compare(a.poolId, b.poolId));
  for (const pool of due) {
    const balance = pool.balanceMicros;
    writes.push(
      {
        type: "entry",
        entry: {
          entryId: ids.entryId(), accountId: account.accountId, kind: "expire", unit: pool.unit, holdId: null, bucket: "",
          amountMicros: balance, uncollectedMicros: 0n, attribution: {}, rateTableVersion: 0n, reason: "pool expired", actor: "system", traceId, atMs: nowMs,
          lines: balance === 0n ? [] : [
            { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: -balance },
            { ledgerAccount: `grants:${account.accountId}`, poolId: null, amountMicros: balance },
          ],
        },
      },
      { type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: -balance, grantedDeltaMicros: 0n, closed: true },
      {
        type: "outbox",
        event: { accountId: account.accountId, kind: "pool_expired", traceparent, payload: { pool_id: pool.poolId, kind: pool.kind, unit: pool.unit, expired_micros: balance.toString() } },
      },
    );
  }
  return writes;
}
