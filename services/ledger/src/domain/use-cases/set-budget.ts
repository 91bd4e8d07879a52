import type { BudgetAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import type { BudgetTerms } from "../state.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

export interface SetBudgetRequest extends BudgetTerms {
  accountId: string;
  reason: string;
  actor: string;
  /** The person the actor acted for (audited; not part of the request's fingerprint). */
  onBehalfOf?: string | undefined;
  idempotencyKey: string;
}

/** Support sets (or changes) a budget on one unit and attribution scope (rules/budgets.ts). */
export async function setBudget(deps: LedgerDeps, request: SetBudgetRequest): Promise<BudgetAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const { onBehalfOf, ...hashed } = request;
  return run(deps, view, { type: "setBudget", ...hashed, ...(onBehalfOf ? { onBehalfOf } : {}), requestHash: fingerprint({ op: "setBudget", ...hashed }) });
}
