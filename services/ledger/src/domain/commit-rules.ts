/**
 * Rules decided on a batch as a whole, when its store commits it: they look
 * at what the batch's writes did to each account (before → after), not at
 * one command, as the pool triggers of earlier releases saw a transaction.
 * Both stores call {@link atCommit} with the state they read and the writes
 * they are about to apply, and apply what it returns in the same
 * transaction.
 */
import { roomExhausted } from "./rules/room-exhausted.js";
import { spendCapReached } from "./rules/spend-cap-reached.js";
import type { LedgerState } from "./state.js";
import { applyWrites, cloneAccount, type Write } from "./writes.js";

/** The account a write belongs to. */
export function accountOfWrite(w: Write): string {
  switch (w.type) {
    case "pool":
      return w.pool.accountId;
    case "hold":
      return w.hold.accountId;
    case "entry":
      return w.entry.accountId;
    case "outbox":
      return w.event.accountId;
    case "work":
      return w.work.accountId;
    default:
      return w.accountId;
  }
}

/**
 * The writes the commit adds: `spend_cap_reached` events and room-exhausted
 * signals. `read`: the accounts as the batch read them (not changed). The
 * batch's time is its entries' (every pool whose balance falls is journaled).
 */
export function atCommit(read: LedgerState, writes: readonly Write[]): Write[] {
  const touched = new Set<string>();
  let nowMs = Number.NEGATIVE_INFINITY;
  for (const w of writes) {
    if (w.type === "poolChange") touched.add(w.accountId);
    if (w.type === "entry" && w.entry.atMs > nowMs) nowMs = w.entry.atMs;
  }
  if (touched.size === 0) return [];
  const after: LedgerState = new Map();
  const balanceBefore = new Map<string, bigint>();
  for (const accountId of touched) {
    const account = read.get(accountId);
    if (!account) continue;
    after.set(accountId, cloneAccount(account));
    for (const pool of account.pools.values()) balanceBefore.set(pool.poolId, pool.balanceMicros);
  }
  const own = writes.filter((w) => after.has(accountOfWrite(w)));
  // A pool the batch creates counts from the balance it is created with.
  for (const w of own) if (w.type === "pool" && !balanceBefore.has(w.pool.poolId)) balanceBefore.set(w.pool.poolId, w.pool.balanceMicros);
  applyWrites(after, own);
  const added: Write[] = [];
  for (const account of after.values()) {
    for (const event of spendCapReached(account, balanceBefore)) added.push({ type: "outbox", event });
    for (const room of roomExhausted(account, balanceBefore, nowMs)) added.push({ type: "roomExhausted", ...room });
  }
  return added;
}
