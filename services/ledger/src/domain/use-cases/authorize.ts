import type { RunContext } from "@tollgate/eligibility";
import type { Unit, Usage } from "@tollgate/rating";
import type { AccountView } from "../account-view.js";
import type { AuthorizeAnswer, AuthorizeCommand, DenialReason } from "../commands.js";
import { describeShortfall } from "../denial.js";
import { limitsFor } from "../rules/kind-limits.js";
import { fingerprint } from "../fingerprint.js";
import type { KeyOwner } from "../rules/idempotency.js";
import { attributionOf, withWorkKind } from "../usage.js";
import { sequenceOf } from "../rules/running-total.js";
import { eligibilityOf, type Price, priceWith, rateTableInEffect, requireAccountId, run, unpricedBy, type LedgerDeps, type Replayed } from "./run.js";

export const DEFAULT_HOLD_TTL_MS = 5 * 60_000;

/** A hold's ttl as asked: 0 (unset) is the default. */
export const holdTtlOf = (requestedMs: number): number => requestedMs || DEFAULT_HOLD_TTL_MS;

export interface AuthorizeRequest {
  accountId: string;
  estimate: Usage;
  attribution: Record<string, string>;
  idempotencyKey: string;
  /** 0: the default (five minutes). */
  ttlMs: number;
  context: RunContext;
  /** The kind of work (empty: none); its limits apply. */
  workKind?: string;
  /** The call's trace (not part of the request's fingerprint). */
  traceId?: string;
  traceparent?: string;
}

export interface AuthorizeOutcome extends AuthorizeAnswer, Replayed {
  unit: string;
  rateTableId: string;
  rateTableVersion: bigint;
}

/**
 * Prices the estimate and reserves it with a hold, or answers why not (denial precedence in rules/denial.ts).
 * `keyOwner`: `ledger` when the ledger keyed the call itself (a Meter stream's open: rules/idempotency.ts).
 */
export async function authorize(deps: LedgerDeps, request: AuthorizeRequest, keyOwner: KeyOwner = "caller"): Promise<AuthorizeOutcome> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const table = await rateTableInEffect(deps, view);
  const { traceId, traceparent, ...hashed } = request;
  const call = {
    type: "authorize" as const, accountId: request.accountId, idempotencyKey: request.idempotencyKey, keyOwner, requestHash: fingerprint({ op: "authorize", ...hashed }),
    ttlMs: holdTtlOf(request.ttlMs), rateTableVersion: sequenceOf(table),
    ...(request.workKind ? { workKind: request.workKind } : {}),
    ...(traceId ? { traceId } : {}),
    ...(traceparent ? { traceparent } : {}),
  };
  let priced: Price | undefined;
  let command: AuthorizeCommand;
  try {
    priced = priceWith(table, view, request.estimate, "estimate");
    command = {
      ...call, unit: priced.unit, bucket: priced.bucket, amountMicros: priced.amountMicros, attribution: withWorkKind(attributionOf(request.estimate, request.attribution), request.workKind),
      eligibility: eligibilityOf(view, request.context, priced.bucket),
    };
  } catch (error) {
    // A rate the version in effect lacks (a model it dropped): refused, unless this is a retry of a call priced before (commands.ts `MayBeUnpriced`).
    command = { ...call, unit: "", bucket: "", amountMicros: 0n, attribution: {}, eligibility: { allowed: true, metered: true, reason: "" }, unpriced: unpricedBy(error) };
  }
  const answer = await run(deps, view, command);
  // The balance denials get every figure of the balance; the others (the budget's included) keep the rule's own words.
  const shortfall = answer.reason !== null && answer.reason !== "ACCOUNT_SUSPENDED" && answer.reason !== "NOT_ELIGIBLE" && answer.reason !== "BUDGET_EXCEEDED";
  return {
    ...answer,
    ...(shortfall && priced ? { message: shortfallMessage(view, answer.reason!, priced.unit, answer.amountMicros, answer.availableMicros, "the request", request.workKind) } : {}),
    unit: priced?.unit ?? "", rateTableId: table.tableId, rateTableVersion: table.version,
  };
}

/** A balance denial's `message`: every figure a caller needs to act on it, measured against the limit that applies. */
export function shortfallMessage(view: AccountView, reason: DenialReason, unit: string, neededMicros: bigint, availableMicros: bigint, what: string, workKind = ""): string {
  const limits = view.units.find((u) => u.unit === unit);
  const applied = limitsFor(limits, view.kindLimits, unit, workKind);
  const limitMicros = reason === "SPEND_CAP_REACHED" ? (limits?.allotmentMicros ?? 0n) : reason === "BELOW_LOW_CREDIT_LIMIT" ? applied.lowCreditLimitMicros : 0n;
  if (reason === "BELOW_LOW_CREDIT_LIMIT" && neededMicros < applied.lowCreditLimitMicros) neededMicros = applied.lowCreditLimitMicros;
  if (applied.own) what = `${what} (${workKind.replace(/_/g, " ")})`;
  return describeShortfall({ reason, unit: unit as Unit, neededMicros, availableMicros, limitMicros, what });
}
