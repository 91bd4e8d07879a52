import type { BudgetAnswer } from "../commands.js";
import type { BudgetTerms } from "../state.js";
import { requireAccountId, run, supportCommand, type LedgerDeps, type SupportRequest } from "./run.js";

export type SetBudgetRequest = BudgetTerms & SupportRequest;

/** Support sets (or changes) a budget on one unit and attribution scope (rules/budgets.ts). */
export async function setBudget(deps: LedgerDeps, request: SetBudgetRequest): Promise<BudgetAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  return run(deps, view, { type: "setBudget", ...supportCommand("setBudget", request) });
}
