import type { Usage } from "@tollgate/rating";
import type { ExtendHoldAnswer, ExtendHoldCommand } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { sequenceOf } from "../rules/running-total.js";
import { priceWith, requireAccountId, run, runPinned, unpricedBy, type LedgerDeps } from "./run.js";

export interface ExtendHoldRequest {
  accountId: string;
  holdId: string;
  /** What more the work is expected to use; absent keeps the amount. */
  estimate: Usage | null;
  /** 0 keeps the expiry. */
  ttlMs: number;
  idempotencyKey: string;
}

/**
 * Reserves more on an open hold and/or keeps it open longer (a long streamed
 * response); the work's eligibility was decided by its Authorize, and the
 * added estimate is priced at the rate table version the hold was authorized at.
 */
export async function extendHold(deps: LedgerDeps, request: ExtendHoldRequest): Promise<ExtendHoldAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const command = (fields: Pick<ExtendHoldCommand, "unit" | "addMicros" | "rateTableVersion">): ExtendHoldCommand => ({
    type: "extendHold", accountId: request.accountId, holdId: request.holdId, ...fields, ttlMs: request.ttlMs,
    idempotencyKey: request.idempotencyKey, requestHash: fingerprint({ op: "extendHold", ...request }),
  });
  const estimate = request.estimate;
  if (!estimate) return run(deps, view, command({ unit: "", addMicros: 0n }));
  const { answer } = await runPinned(deps, view, (table) => {
    try {
      const priced = priceWith(table, view, estimate, "estimate");
      return command({ unit: priced.unit, addMicros: priced.amountMicros, rateTableVersion: priced.sequence });
    } catch (error) {
      // As a charge's: the hold's version may have a rate the version in effect dropped.
      return { ...command({ unit: "", addMicros: 0n, rateTableVersion: sequenceOf(table) }), unpriced: unpricedBy(error) };
    }
  });
  return answer;
}
