import type { ExpireAnswer } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/** The sweepers' use case: returns an account's expired holds, or closes its expired pools, without waiting for its next write. */
export async function expire(deps: LedgerDeps, accountId: string, what: "holds" | "pools"): Promise<ExpireAnswer> {
  requireAccountId(accountId);
  const view = await deps.accounts.get(accountId);
  return run(deps, view, { type: what === "holds" ? "expireHolds" : "expirePools", accountId });
}

/**
 * A sweep over the accounts a sweeper found: each account's expiry is its own
 * transaction (batched with its neighbours by group commit); an account that
 * fails waits for the next sweep. Returns how many holds or pools expired.
 */
export async function sweep(deps: LedgerDeps, accountIds: readonly string[], what: "holds" | "pools"): Promise<number> {
  const swept = await Promise.allSettled(accountIds.map((accountId) => expire(deps, accountId, what)));
  return swept.reduce((total, s) => total + (s.status === "fulfilled" ? s.value.expired : 0), 0);
}
