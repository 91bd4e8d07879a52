import { pastExpiry } from "../balance.js";
import { type AccountState, type BatchContext, type Pool, traceOf } from "../state.js";
import type { Write } from "../writes.js";
import { drawdownOrder } from "./drawdown.js";

/**
 * Pools past their expiry close with an `expire` entry (their balance goes
 * back to `grants:`) and a `pool_expired` event. The cycle's own pools
 * (`monthly`, `spend_cap`) are closed by rollover instead. Run before any
 * write on the account and by the sweeper. Several due at once close in the
 * order they expired, the oldest first.
 *
 * A pool that owes (a negative balance: an overdraft it carried, or an
 * Adjust beyond what it held) does not take its debt with it: a `reset`
 * entry moves the debt to the pool of its unit that would carry an overdraft
 * now (the first in draw-down order of those that live on), then the pool
 * closes at zero. With no such pool it stays open, and its debt counts in the
 * balance (balance.ts `isLive`), until a grant or allotment gives one.
 */
const compare = <T extends string | number>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

export function expirePools(account: AccountState, ctx: BatchContext): Write[] {
  const { nowMs, ids } = ctx;
  const { traceId, traceparent } = traceOf(ctx);
  const writes: Write[] = [];
  const due = [...account.pools.values()]
    .filter((p) => !p.closed && p.kind !== "monthly" && p.kind !== "spend_cap" && pastExpiry(p, nowMs))
    // In the order they expired (then the oldest first): the journal does not depend on how a store names pools or reads them.
    .sort((a, b) => compare(a.unit, b.unit) || compare(a.expiresAtMs!, b.expiresAtMs!) || compare(a.createdAtMs, b.createdAtMs) || compare(a.poolId, b.poolId));
  const dueIds = new Set(due.map((p) => p.poolId));
  for (const pool of due) {
    if (pool.balanceMicros < 0n) {
      const carrier = debtCarrier(account, pool, dueIds, nowMs);
      if (!carrier) continue;
      const debt = pool.balanceMicros;
      writes.push(
        {
          type: "entry",
          entry: {
            entryId: ids.entryId(), accountId: account.accountId, kind: "reset", unit: pool.unit, holdId: null, bucket: "", amountMicros: debt, uncollectedMicros: 0n,
            attribution: {}, rateTableVersion: 0n, reason: "negative balance of an expired pool carried", actor: "system", traceId, atMs: nowMs,
            lines: [
              { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: -debt },
              { ledgerAccount: `pool:${carrier.poolId}`, poolId: carrier.poolId, amountMicros: debt },
            ],
          },
        },
        { type: "poolChange", accountId: account.accountId, poolId: carrier.poolId, balanceDeltaMicros: debt, grantedDeltaMicros: 0n },
      );
    }
    const balance = pool.balanceMicros < 0n ? 0n : pool.balanceMicros;
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
      { type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: -pool.balanceMicros, grantedDeltaMicros: 0n, closed: true },
      {
        type: "outbox",
        event: { accountId: account.accountId, kind: "pool_expired", traceparent, payload: { pool_id: pool.poolId, kind: pool.kind, unit: pool.unit, expired_micros: balance.toString() } },
      },
    );
  }
  return writes;
}

/** The pool an expiring pool's debt moves to: of its unit's pools that live on, the first in draw-down order. */
function debtCarrier(account: AccountState, expiring: Pool, dueIds: ReadonlySet<string>, nowMs: number): Pool | undefined {
  const livingOn = [...account.pools.values()].filter(
    (p) => p.unit === expiring.unit && !p.closed && !dueIds.has(p.poolId) && !pastExpiry(p, nowMs),
  );
  return drawdownOrder(livingOn, account.facts.drawdownOrder)[0];
}
