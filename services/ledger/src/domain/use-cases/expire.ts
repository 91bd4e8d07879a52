import type { ExpireAnswer } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/** The sweepers' use case: returns an account's expired holds, or closes its expired pools, without waiting for its next write. */
export async function expire(deps: LedgerDeps, accountId: string, what: "holds" | "pools"): Promise<ExpireAnswer> {
  requireAccountId(accountId);
  const view = await deps.accounts.get(accountId);
  return run(deps, view, { type: what === "holds" ? "expireHolds" : "expirePools", accountId });
}
