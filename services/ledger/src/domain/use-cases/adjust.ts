import type { AdjustAnswer } from "../commands.js";
import { requireAccountId, run, supportCommand, type LedgerDeps, type SupportRequest } from "./run.js";

export interface AdjustRequest extends SupportRequest {
  poolId: string;
  /** Signed: positive credits the pool, negative debits it. */
  amountMicros: bigint;
  traceId: string;
}

/** A support correction: a compensating entry on one pool, never below the negative limit. */
export async function adjust(deps: LedgerDeps, request: AdjustRequest): Promise<AdjustAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const { traceId, ...rest } = request;
  return run(deps, view, { type: "adjust", ...supportCommand("adjust", rest), traceId });
}
