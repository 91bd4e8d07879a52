import type { Usage } from "@tollgate/rating";
import type { ExtendHoldAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { price, requireAccountId, run, type LedgerDeps } from "./run.js";

export interface ExtendHoldRequest {
  accountId: string;
  holdId: string;
  /** What more the work is expected to use; absent keeps the amount. */
  estimate: Usage | null;
  /** 0 keeps the expiry. */
  ttlMs: number;
  idempotencyKey: string;
}

/** Reserves more on an open hold and/or keeps it open longer (a long streamed response); the work's eligibility was decided by its Authorize. */
export async function extendHold(deps: LedgerDeps, request: ExtendHoldRequest): Promise<ExtendHoldAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const priced = request.estimate ? await price(deps, view, request.estimate, "estimate") : null;
  const hold = { unit: priced?.unit ?? "", addMicros: priced?.amountMicros ?? 0n };
  return run(deps, view, {
    type: "extendHold", accountId: request.accountId, holdId: request.holdId, ...hold, ttlMs: request.ttlMs,
    idempotencyKey: request.idempotencyKey, requestHash: fingerprint({ op: "extendHold", ...request }),
  });
}
