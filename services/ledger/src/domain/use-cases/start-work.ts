import type { AccountView } from "../account-view.js";
import type { StartWorkAnswer, StartWorkCommand } from "../commands.js";
import { requireAccountId, run, type LedgerDeps, type Replayed } from "./run.js";

/**
 * Starts a run or a deployment, priced and admitted by the caller (its unit,
 * whether the plan meters it where it runs): refused when nothing is left,
 * or (deployments) below the low-credit limit, unless unmetered. The
 * account's cycle is opened first, in the same transaction.
 */
export async function startWork(deps: LedgerDeps, view: AccountView, command: StartWorkCommand): Promise<StartWorkAnswer & Replayed> {
  requireAccountId(command.accountId);
  return run(deps, view, command);
}
