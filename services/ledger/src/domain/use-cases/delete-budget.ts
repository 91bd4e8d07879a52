import type { BudgetAnswer } from "../commands.js";
import { requireAccountId, run, supportCommand, type LedgerDeps, type SupportRequest } from "./run.js";

export interface DeleteBudgetRequest extends SupportRequest {
  budgetId: string;
}

/** Support removes a budget; the answer is the budget as it counted then. */
export async function deleteBudget(deps: LedgerDeps, request: DeleteBudgetRequest): Promise<BudgetAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  return run(deps, view, { type: "deleteBudget", ...supportCommand("deleteBudget", request) });
}
