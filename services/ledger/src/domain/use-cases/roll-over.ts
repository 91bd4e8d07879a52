import type { RollOverAnswer } from "../commands.js";
import { cycleCommand, requireAccountId, run, type LedgerDeps } from "./run.js";

/** Opens the account's current cycle or rolls it over (idempotent; every other use case does it lazily first). */
export async function rollOver(deps: LedgerDeps, accountId: string, unit: string | null = null): Promise<RollOverAnswer> {
  requireAccountId(accountId);
  const view = await deps.accounts.get(accountId);
  return run(deps, view, cycleCommand(view, deps.now(), unit));
}
