import { trace, type Attributes } from "@opentelemetry/api";
import type { AuthorizeOutcome } from "../domain/use-cases/authorize.js";
import type { ChargeOutcome } from "../domain/use-cases/charge.js";
import type { LedgerMetrics } from "../metrics.js";

/** Micro-units as a span attribute (exact up to 2^53 µ, nine billion credits). */
const micros = (value: bigint) => Number(value);

/**
 * What the ledger decided, written once per call: onto the RPC's span (the
 * `tollgate.*` attributes listed in the README) and into the decision and
 * charge counters. Handlers call it with the use case's outcome.
 */
export class DecisionTelemetry {
  constructor(
    private readonly metrics: LedgerMetrics,
    /** The pools a charge entry drew (read only when the span is recorded). */
    private readonly poolsDrawn: (accountId: string, entryId: bigint) => Promise<{ poolId: string; amountMicros: bigint }[]>,
  ) {}

  authorized(accountId: string, outcome: AuthorizeOutcome): void {
    if (!outcome.replayed) this.metrics.decision("authorize", outcome.unit ?? "", outcome.allowed, outcome.reason ?? undefined);
    const span = trace.getActiveSpan();
    if (!span?.isRecording()) return;
    span.setAttributes({
      ...common(accountId, outcome),
      "tollgate.allowed": outcome.allowed,
      ...(outcome.reason ? { "tollgate.reason": outcome.reason } : {}),
      "tollgate.amount_micros": micros(outcome.amountMicros),
      "tollgate.available_after_micros": micros(outcome.availableMicros),
      "tollgate.metered": outcome.metered,
      ...(outcome.holdId ? { "tollgate.hold_id": outcome.holdId } : {}),
    });
  }

  /** A run or a deployment asked to start. */
  started(accountId: string, operation: "start_run" | "deploy", outcome: { allowed: boolean; reason?: string; unit?: string; replayed?: boolean }): void {
    if (!outcome.replayed) this.metrics.decision(operation, outcome.unit ?? "", outcome.allowed, outcome.reason);
    trace.getActiveSpan()?.setAttributes({
      "tollgate.account_id": accountId,
      ...(outcome.unit ? { "tollgate.unit": outcome.unit } : {}),
      "tollgate.allowed": outcome.allowed,
      ...(outcome.reason ? { "tollgate.reason": outcome.reason } : {}),
      "tollgate.idempotent_replay": outcome.replayed === true,
    });
  }

  async charged(accountId: string, holdId: string | undefined, outcome: ChargeOutcome): Promise<void> {
    if (!outcome.replayed) this.metrics.charge(outcome.unit, outcome.proceed, outcome.chargedMicros, outcome.uncollectedMicros);
    const span = trace.getActiveSpan();
    if (!span?.isRecording()) return;
    const pools = outcome.entryId > 0n ? await this.poolsDrawn(accountId, outcome.entryId) : [];
    span.setAttributes({
      ...common(accountId, outcome),
      "tollgate.allowed": outcome.proceed,
      ...(holdId ? { "tollgate.hold_id": holdId } : {}),
      "tollgate.amount_micros": micros(outcome.chargedMicros),
      "tollgate.uncollected_micros": micros(outcome.uncollectedMicros),
      "tollgate.released_micros": micros(outcome.releasedMicros),
      "tollgate.balance_after_micros": micros(outcome.balanceMicros),
      "tollgate.entry_id": outcome.entryId.toString(),
      "tollgate.pools_drawn.ids": pools.map((p) => p.poolId),
      "tollgate.pools_drawn.amounts_micros": pools.map((p) => micros(p.amountMicros)),
    });
  }
}

function common(accountId: string, outcome: AuthorizeOutcome | ChargeOutcome): Attributes {
  return {
    "tollgate.account_id": accountId,
    ...(outcome.unit ? { "tollgate.unit": outcome.unit } : {}),
    ...(outcome.rateTableId ? { "tollgate.rate_table.id": outcome.rateTableId } : {}),
    ...(outcome.rateTableVersion !== undefined ? { "tollgate.rate_table.version": Number(outcome.rateTableVersion) } : {}),
    "tollgate.idempotent_replay": outcome.replayed === true,
  };
}
