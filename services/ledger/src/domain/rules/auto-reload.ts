import { MICROS_PER_UNIT, roundHalfUp } from "@tollgate/rating";
import { minBigint, pastExpiry } from "../balance.js";
import { type AccountState, type BatchContext, type Pool, poolsOldestFirst, type Trace } from "../state.js";
import type { Write } from "../writes.js";

/** An add-on pool with auto reload, not past its expiry, that is out of its cool-down: below its level, or about to be `drained`. */
export function needsReload(pool: Pool, nowMs: number, drained = false): boolean {
  return (
    pool.kind === "add_on" && !pool.closed && !pastExpiry(pool, nowMs) && pool.reload !== null && pool.reload.toMicros > 0n &&
    (drained || pool.balanceMicros < pool.reload.belowMicros) &&
    (pool.reloadedAtMs === null || pool.reloadedAtMs + pool.reload.cooldownMs <= nowMs)
  );
}

/**
 * Whether a support Adjust of `amountMicros` stops a pool's reload: one that
 * takes a reloading add-on below its level takes back what was bought, and
 * the next call must not buy it again. A pool already below its level in its
 * cool-down keeps its reload: what it is short of was used, and waits for the
 * cool-down, not taken back.
 */
export function stopsReload(pool: Pool, amountMicros: bigint, nowMs: number): boolean {
  if (!pool.reload || pool.reload.toMicros <= 0n || amountMicros >= 0n) return false;
  const coolingDown = pool.reloadedAtMs !== null && pool.reloadedAtMs + pool.reload.cooldownMs > nowMs;
  if (pool.balanceMicros < pool.reload.belowMicros && coolingDown) return false;
  return pool.balanceMicros + amountMicros < pool.reload.belowMicros;
}

/**
 * Auto reload, at every Authorize (before its decision) and Charge (after its
 * draw) of a unit: every add-on pool of the unit below its level and out of
 * its cool-down is topped up to its target with a `grant` entry (`purchases:`
 * pays) and a `pool_reloaded` event (the purchase to bill), oldest pool
 * first. So a pool drained during its cool-down reloads at the first call
 * after it, although no draw touches a pool at zero. `account` is as the call
 * left it so far; `trace`: the call's.
 *
 * `drained`: a charge about to leave usage uncollected (short of balance)
 * draws every pool of its unit dry on the way, so each reloading add-on is
 * reloaded before the draw, by what it would buy at zero (its target, and
 * any debt it carries), and the charge collects the rest from it: a charge
 * larger than what is left is paid by the reload instead of going
 * uncollected and stopping the work.
 */
/** What a reload of `amount` is billed at: its whole units at the pool's price (USD micros), rounded half up; nothing for a pool without a price. */
function reloadPrice(pool: Pool, amount: bigint): { price_usd_micros?: string } {
  const price = pool.reload?.priceUsdMicros;
  return price === undefined ? {} : { price_usd_micros: roundHalfUp(amount * price, MICROS_PER_UNIT).toString() };
}

export function autoReload(account: AccountState, unit: string, ctx: BatchContext, { traceId, traceparent }: Trace, { drained = false } = {}) {
  const writes: Write[] = [];
  let reloadedMicros = 0n;
  for (const pool of poolsOldestFirst(account)) {
    if (pool.unit !== unit || !needsReload(pool, ctx.nowMs, drained)) continue;
    const amount = pool.reload!.toMicros - (drained ? minBigint(pool.balanceMicros, 0n) : pool.balanceMicros);
    writes.push(
      {
        type: "entry",
        entry: {
          entryId: ctx.ids.entryId(), accountId: account.accountId, kind: "grant", unit, holdId: null, bucket: "", amountMicros: amount, uncollectedMicros: 0n,
          attribution: {}, rateTableVersion: 0n, reason: "add-on auto reload", actor: "system", traceId, atMs: ctx.nowMs,
          lines: [
            { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: amount },
            { ledgerAccount: `purchases:${account.accountId}`, poolId: null, amountMicros: -amount },
          ],
        },
      },
      { type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: amount, grantedDeltaMicros: amount, reloadedAtMs: ctx.nowMs },
      { type: "outbox", event: { accountId: account.accountId, kind: "pool_reloaded", traceparent, payload: { pool_id: pool.poolId, unit, amount_micros: amount.toString(), ...reloadPrice(pool, amount) } } },
    );
    reloadedMicros += amount;
  }
  return { writes, reloadedMicros };
}
