import type { BudgetAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { requireAccountId, run, type LedgerDeps, type SupportRequest } from "./run.js";

export interface DeleteBudgetRequest extends SupportRequest {
  budgetId: string;
}

/** Support removes a budget; the answer is the budget as it counted then. */
export async function deleteBudget(deps: LedgerDeps, request: DeleteBudgetRequest): Promise<BudgetAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const { onBehalfOf, ...hashed } = request;
  return run(deps, view, { type: "deleteBudget", ...hashed, ...(onBehalfOf ? { onBehalfOf } : {}), requestHash: fingerprint({ op: "deleteBudget", ...hashed }) });
}
