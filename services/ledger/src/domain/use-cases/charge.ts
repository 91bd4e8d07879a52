import type { RunContext } from "@tollgate/eligibility";
import type { Usage } from "@tollgate/rating";
import type { ChargeAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { attributionOf } from "../usage.js";
import { eligibilityOf, price, requireAccountId, run, type LedgerDeps, type Replayed } from "./run.js";

export interface ChargeRequest {
  accountId: string;
  /** Null: a one-shot charge without a hold. */
  holdId: string | null;
  usage: Usage;
  final: boolean;
  idempotencyKey: string;
  attribution: Record<string, string>;
  context: RunContext;
  traceparent: string;
  traceId: string;
}

export interface ChargeOutcome extends ChargeAnswer, Replayed {
  unit: string;
  rateTableId: string;
  rateTableVersion: bigint;
}

/** Prices usage and charges it, on its hold or alone; unmetered usage is journaled at zero. */
export async function charge(deps: LedgerDeps, request: ChargeRequest): Promise<ChargeOutcome> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const priced = await price(deps, view, request.usage, "usage");
  // A one-shot charge hashes without a hold id, as it always has (a retry across an upgrade replays).
  const { traceparent, traceId, holdId, ...hashed } = request;
  const answer = await run(deps, view, {
    type: "charge", accountId: request.accountId, holdId: request.holdId, unit: priced.unit, bucket: priced.bucket,
    amountMicros: eligibilityOf(view, request.context, priced.bucket).metered ? priced.amountMicros : 0n, final: request.final,
    idempotencyKey: request.idempotencyKey, requestHash: fingerprint({ op: "charge", ...hashed, ...(holdId ? { holdId } : {}) }),
    attribution: attributionOf(request.usage, request.attribution), rateTableVersion: priced.sequence, traceparent, traceId,
  });
  return { ...answer, unit: priced.unit, rateTableId: priced.tableId, rateTableVersion: priced.version };
}
