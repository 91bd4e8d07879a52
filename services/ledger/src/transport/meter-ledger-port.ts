import type { LogFollower } from "@tollgate/db";
import type { RequestScope } from "@tollgate/grpc-kit";
import { currentTraceId, currentTraceparent } from "@tollgate/telemetry";
import type { LedgerStore, OutboxRow } from "../data/ledger-store.js";
import type { Ledger } from "../domain/ledger.js";
import type { MeterPort } from "../domain/meter-port.js";
import type { MeterHold } from "../domain/meter-session.js";
import type { DecisionTelemetry } from "./decision-telemetry.js";

/**
 * The Meter stream's port onto the ledger: the very calls the Authorize,
 * Charge and Release handlers make (with their telemetry and event wake-up),
 * each in its own request scope, since a stream outlives any one of them.
 * The only file that knows how a stream's writes reach the ledger.
 */
export function ledgerMeterPort(ledger: Ledger, store: LedgerStore, events: LogFollower<OutboxRow>, decisions: DecisionTelemetry, scope: RequestScope): MeterPort {
  return {
    authorize: (call) =>
      scope(async () => {
        const outcome = await ledger.authorize(call);
        decisions.authorized(call.accountId, outcome);
        return outcome;
      }),

    charge: (call) =>
      scope(async () => {
        const outcome = await ledger.charge({ ...call, traceparent: currentTraceparent(), traceId: currentTraceId() });
        if (outcome.entryId > 0n) events.notify();
        await decisions.charged(call.accountId, call.holdId, outcome);
        return { ...outcome, replayed: outcome.replayed === true };
      }),

    release: (call) => scope(() => ledger.release(call.accountId, call.holdId, call.idempotencyKey)),

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

    room: (accountId, unit) =>
      scope(async () => {
        const { pools, balances } = await ledger.balance(accountId);
        const balance = balances.find((b) => b.unit === unit);
        const now = new Date();
        const live = pools.filter((p) => p.unit === unit && !p.closed && (!p.expiresAt || p.expiresAt > now)).reduce((sum, p) => sum + BigInt(p.balanceMicros), 0n);
        return live - BigInt(balance?.heldMicros ?? 0) + BigInt(balance?.negativeLimitMicros ?? 0);
      }),
  };
}
