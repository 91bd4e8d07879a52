import type { AccountView } from "../account-view.js";
import type { ResumeWorkAnswer, ResumeWorkCommand } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/** Resumes a paused run from now (the pause is never charged); other states answer as they are. */
export async function resumeWork(deps: LedgerDeps, view: AccountView, request: Omit<ResumeWorkCommand, "type">): Promise<ResumeWorkAnswer> {
  requireAccountId(request.accountId);
  return run(deps, view, { type: "resumeWork", ...request });
}
