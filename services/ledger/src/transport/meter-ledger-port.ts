import type { LogFollower } from "@tollgate/db";
import type { RequestScope } from "@tollgate/grpc-kit";
import { currentTraceId, currentTraceparent } from "@tollgate/telemetry";
import type { LedgerStore, OutboxRow } from "../data/ledger-store.js";
import type { Ledger } from "../app/metered-work.js";
import { roomMicros, totalsOf } from "../domain/balance.js";
import { usedUp } from "../domain/rules/budgets.js";
import type { MeterPort } from "../domain/meter-port.js";
import type { MeterHold } from "../domain/meter-session.js";
import { authorize } from "../domain/use-cases/authorize.js";
import { charge } from "../domain/use-cases/charge.js";
import { release } from "../domain/use-cases/release.js";
import type { LedgerDeps } from "../domain/use-cases/run.js";
import { poolFigures } from "./codec.js";
import type { DecisionTelemetry } from "./decision-telemetry.js";

/**
 * The Meter stream's port onto the ledger: the very use cases the Authorize,
 * Charge and Release handlers call (the same group commit and state machine,
 * with their telemetry and event wake-up), each in its own request scope,
 * since a stream outlives any one of them. The only file that knows how a
 * stream's writes reach the ledger: keyed by the ledger itself (from the work
 * id, `meter:…`: rules/idempotency.ts), which a caller's key may not be.
 */
export function ledgerMeterPort(deps: LedgerDeps, ledger: Ledger, store: LedgerStore, events: LogFollower<OutboxRow>, decisions: DecisionTelemetry, scope: RequestScope): MeterPort {
  return {
    authorize: (call) =>
      scope(async () => {
        const outcome = await authorize(deps, { ...call, traceparent: currentTraceparent(), traceId: currentTraceId() }, "ledger");
        decisions.authorized(call.accountId, outcome);
        return {
          allowed: outcome.allowed,
          ...(outcome.reason ? { reason: outcome.reason } : {}),
          message: outcome.message,
          ...(outcome.holdId ? { holdId: outcome.holdId } : {}),
          amountMicros: outcome.amountMicros,
          availableMicros: outcome.availableMicros,
          metered: outcome.metered,
          ...(outcome.expiresAtMs === null ? {} : { expiresAt: new Date(outcome.expiresAtMs) }),
          ...(outcome.draftsOnly ? { draftsOnly: true } : {}),
        };
      }),

    charge: (call) =>
      scope(async () => {
        const outcome = await charge(deps, { ...call, holdId: call.holdId ?? null, traceparent: currentTraceparent(), traceId: currentTraceId() }, "ledger");
        if (outcome.entryId > 0n) events.notify();
        await decisions.charged(call.accountId, call.holdId, outcome);
        return {
          entryId: outcome.entryId, chargedMicros: outcome.chargedMicros, uncollectedMicros: outcome.uncollectedMicros, releasedMicros: outcome.releasedMicros,
          balanceMicros: outcome.balanceMicros, proceed: outcome.proceed, replayed: outcome.replayed === true, ...(outcome.budgetId ? { budgetId: outcome.budgetId } : {}),
        };
      }),

    release: (call) => scope(() => release(deps, call, "ledger")),

    hold: (holdId) =>
      scope(async () => {
        const hold = await store.hold(holdId);
        if (!hold) return undefined;
        return {
          holdId: hold.holdId,
          unit: hold.unit,
          amountMicros: BigInt(hold.amountMicros),
          chargedMicros: BigInt(hold.chargedMicros),
          status: hold.status as MeterHold["status"],
          expiresAt: hold.expiresAt,
        };
      }),

    recorded: (accountId, idempotencyKey) => scope(() => store.recorded(accountId, idempotencyKey)),

    room: (accountId, unit) =>
      scope(async () => {
        const { pools, balances } = await ledger.balance(accountId);
        const balance = balances.find((b) => b.unit === unit);
        const totals = totalsOf(pools.filter((p) => p.unit === unit).map(poolFigures), BigInt(balance?.heldMicros ?? 0), deps.now().getTime());
        return roomMicros(totals, BigInt(balance?.negativeLimitMicros ?? 0));
      }),

    usedUpBudgets: (accountId) =>
      scope(async () =>
        (await store.budgets(accountId, deps.now()))
          .filter((b) => usedUp(b, b.usedMicros))
          .map((b) => ({ budgetId: b.budgetId, unit: b.unit, scope: b.scope, scopeId: b.scopeId })),
      ),
  };
}
