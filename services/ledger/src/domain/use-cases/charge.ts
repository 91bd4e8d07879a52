import type { RunContext } from "@tollgate/eligibility";
import type { Usage } from "@tollgate/rating";
import type { ChargeAnswer, ChargeCommand } from "../commands.js";
import { sequenceOf } from "../rules/running-total.js";
import { fingerprint } from "../fingerprint.js";
import type { KeyOwner } from "../rules/idempotency.js";
import { attributionOf, withWorkKind } from "../usage.js";
import { occurredAt } from "../rules/late-usage.js";
import { chargedInFull, MIN_IDEMPOTENCY_RETENTION_MS, priceWith, raise, requireAccountId, runPinned, unpricedBy, type LedgerDeps, type Replayed } from "./run.js";

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
  /** Late usage: when it happened (rules/late-usage.ts); absent: now. */
  occurredAt?: Date;
  /** The kind of work a one-shot charge is for (empty: none); a charge on a hold takes the hold's. */
  workKind?: string;
  /** Who called: the authenticated principal, and the person it acted for (recorded on the entry; not part of the request's fingerprint). */
  actor?: string;
  onBehalfOf?: string | undefined;
}

export interface ChargeOutcome extends ChargeAnswer, Replayed {
  unit: string;
  rateTableId: string;
  rateTableVersion: bigint;
}

/**
 * Prices usage and charges it, on its hold or alone; usage the plan leaves
 * unmetered where it ran is journaled at zero, usage it does not allow there
 * is charged in full (`chargedInFull`). Alone, the usage is priced at the rate table version in
 * effect when it happened (late usage: its `occurred_at`). On a hold, it is
 * priced at the version the hold was authorized at and the hold's running
 * total is rounded once
 * (rules/running-total.ts). `keyOwner`: `ledger` when the ledger keyed the call
 * itself (a Meter stream's increments and close: rules/idempotency.ts).
 */
export async function charge(deps: LedgerDeps, request: ChargeRequest, keyOwner: KeyOwner = "caller"): Promise<ChargeOutcome> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const late = request.occurredAt ? occurredAt(request.occurredAt, deps.now(), view.cycleAnchor, deps.idempotencyRetentionMs ?? MIN_IDEMPOTENCY_RETENTION_MS) : null;
  if (late && "code" in late) raise(late);
  // A one-shot charge hashes without a hold id, as it always has (a retry across an upgrade replays); a charge without occurred_at or a kind as before.
  const { traceparent, traceId, holdId, occurredAt: _occurredAt, workKind, actor, onBehalfOf, ...hashed } = request;
  const requestHash = fingerprint({
    op: "charge", ...hashed, ...(holdId ? { holdId } : {}), ...(request.occurredAt ? { occurredAt: request.occurredAt } : {}), ...(workKind && !holdId ? { workKind } : {}),
  });
  // The command as it is whatever the usage prices at (or fails to).
  const call = { type: "charge" as const, accountId: request.accountId, holdId: request.holdId, final: request.final, idempotencyKey: request.idempotencyKey, keyOwner, requestHash, traceparent, traceId };
  let priced: ReturnType<typeof priceWith> | undefined;
  const { answer, table } = await runPinned(deps, view, (table): ChargeCommand => {
    try {
      priced = priceWith(table, view, request.usage, "usage");
    } catch (error) {
      // A rate the version in effect lacks (a model it dropped) may be in the version a hold was authorized at: the state
      // machine answers RATE_TABLE_PINNED for such a hold, and the usage is priced there; a retry is answered as the call
      // was; for any other, this refusal stands.
      priced = undefined;
      return { ...call, unit: "", bucket: "", amountMicros: 0n, attribution: {}, rateTableVersion: sequenceOf(table), unpriced: unpricedBy(error) };
    }
    const metered = chargedInFull(view, request.context, priced.bucket);
    return {
      ...call, unit: priced.unit, bucket: priced.bucket, amountMicros: metered ? priced.amountMicros : 0n,
      attribution: attributionOf(request.usage, request.holdId === null ? withWorkKind(request.attribution, request.workKind) : request.attribution), rateTableVersion: priced.sequence,
      ...(request.holdId !== null ? { running: { usage: request.usage, table, providerCost: view.billingMode === "byom_usd", metered } } : {}),
      ...(late ? { occurredAtMs: late.atMs } : {}),
      ...(actor ? { actor } : {}),
      ...(onBehalfOf ? { onBehalfOf } : {}),
    };
  }, request.holdId === null && late ? new Date(late.atMs) : undefined);
  // A retry of a call priced before, answered while its rate is gone, names the version in effect.
  return { ...answer, unit: priced?.unit ?? "", rateTableId: priced?.tableId ?? table.tableId, rateTableVersion: priced?.version ?? table.version };
}
