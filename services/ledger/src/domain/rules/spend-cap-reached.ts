import { type AccountState, type Pool, poolsOldestFirst } from "../state.js";
import type { OutboxEvent } from "../writes.js";

/**
 * Spend cap reached: when a batch takes an open BYOM spend-cap pool from
 * above zero to zero or below, the account's `spend_cap_reached` event goes
 * to the outbox in the same transaction, with the cap, what was spent and the
 * cycle. At most once per account and cycle: the outbox keeps one such event
 * per (account, cycle) and drops a second, so a cap raised and reached again
 * in the same cycle sends nothing more.
 *
 * Decided on what the batch did to the pool as a whole (its balance before
 * the batch, or as the batch created it, against its balance after), as the
 * trigger of earlier releases saw one set-based update.
 */
export function spendCapReached(account: AccountState, balanceBefore: ReadonlyMap<string, bigint>): OutboxEvent[] {
  const events: OutboxEvent[] = [];
  for (const pool of poolsOldestFirst(account)) {
    const before = balanceBefore.get(pool.poolId);
    if (before === undefined || !reachedCap(pool, before)) continue;
    events.push({
      accountId: account.accountId,
      kind: "spend_cap_reached",
      traceparent: "",
      payload: {
        cap_micros: pool.grantedMicros.toString(),
        spent_micros: (pool.grantedMicros - pool.balanceMicros).toString(),
        cycle: account.cycle ? new Date(account.cycle.startMs).toISOString() : "",
      },
    });
  }
  return events;
}

function reachedCap(pool: Pool, balanceBeforeMicros: bigint): boolean {
  return pool.kind === "spend_cap" && !pool.closed && pool.balanceMicros <= 0n && balanceBeforeMicros > 0n;
}
