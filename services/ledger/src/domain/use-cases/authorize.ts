import type { RunContext } from "@tollgate/eligibility";
import type { Usage } from "@tollgate/rating";
import type { AuthorizeAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { attributionOf } from "../usage.js";
import { eligibilityOf, price, requireAccountId, run, type LedgerDeps } from "./run.js";

export const DEFAULT_HOLD_TTL_MS = 5 * 60_000;

export interface AuthorizeRequest {
  accountId: string;
  estimate: Usage;
  attribution: Record<string, string>;
  idempotencyKey: string;
  /** 0: the default (five minutes). */
  ttlMs: number;
  context: RunContext;
}

/** Prices the estimate and reserves it with a hold, or answers why not (denial precedence in rules/denial.ts). */
export async function authorize(deps: LedgerDeps, request: AuthorizeRequest): Promise<AuthorizeAnswer & { rateTableVersion: bigint }> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const priced = await price(deps, view, request.estimate, "estimate");
  const answer = await run(deps, view, {
    type: "authorize", accountId: request.accountId, unit: priced.unit, bucket: priced.bucket, amountMicros: priced.amountMicros,
    idempotencyKey: request.idempotencyKey, requestHash: fingerprint({ op: "authorize", ...request }), ttlMs: request.ttlMs || DEFAULT_HOLD_TTL_MS,
    attribution: attributionOf(request.estimate, request.attribution), rateTableVersion: priced.version,
    eligibility: eligibilityOf(view, request.context, priced.bucket),
  });
  return { ...answer, rateTableVersion: priced.version };
}
