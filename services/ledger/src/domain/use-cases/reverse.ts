import type { ReverseAnswer } from "../commands.js";
import { requireAccountId, run, supportCommand, type LedgerDeps, type SupportRequest } from "./run.js";

export interface ReverseRequest extends SupportRequest {
  /** The charge entry to return. */
  entryId: bigint;
  traceId: string;
}

/** Returns a charge to the pools it drew from as one compensating entry; a charge is reversed at most once. */
export async function reverse(deps: LedgerDeps, request: ReverseRequest): Promise<ReverseAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const { traceId, ...rest } = request;
  return run(deps, view, { type: "reverse", ...supportCommand("reverse", rest), traceId });
}
