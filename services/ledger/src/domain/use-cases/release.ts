import type { ReleaseAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import type { KeyOwner } from "../rules/idempotency.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/** Voids what a hold still reserves; a hold no longer open answers its status and 0. `keyOwner`: as charge's. */
export async function release(deps: LedgerDeps, request: { accountId: string; holdId: string; idempotencyKey: string }, keyOwner: KeyOwner = "caller"): Promise<ReleaseAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  return run(deps, view, { type: "release", ...request, keyOwner, requestHash: fingerprint({ op: "release", accountId: request.accountId, holdId: request.holdId }) });
}
