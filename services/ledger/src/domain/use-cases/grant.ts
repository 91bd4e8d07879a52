import type { GrantAnswer } from "../commands.js";
import type { PoolKind } from "../state.js";
import { requireAccountId, run, supportContext, supportFingerprint, type LedgerDeps, type SupportRequest } from "./run.js";

export interface GrantRequest extends SupportRequest {
  poolKind: PoolKind;
  unit: string;
  amountMicros: bigint;
  expiresAt?: Date;
  priority: number;
  traceId: string;
  reload?: { belowMicros: bigint; toMicros: bigint; cooldownMs: number };
}

/** A new pool with its grant entry (add-on pools may reload themselves). */
export async function grant(deps: LedgerDeps, request: GrantRequest): Promise<GrantAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const { traceId, ...rest } = request;
  const reloadPrice = request.reload ? view.addOnPrices?.[request.unit as keyof NonNullable<typeof view.addOnPrices>] : undefined;
  return run(deps, view, {
    type: "grant", accountId: request.accountId, unit: request.unit, kind: request.poolKind, amountMicros: request.amountMicros,
    expiresAtMs: request.expiresAt?.getTime() ?? null, priority: request.priority, reason: request.reason, actor: request.actor,
    ...supportContext(request),
    idempotencyKey: request.idempotencyKey, requestHash: supportFingerprint("grant", rest).requestHash, traceId, reload: request.reload ?? null,
    // An auto-reloading pool bills each reload at the plan's add-on price as it is now (its pool_reloaded event carries it),
    // written with the pool in the grant's transaction: no reload can come before it, and a replay changes nothing.
    ...(reloadPrice !== undefined ? { reloadPriceUsdMicros: reloadPrice } : {}),
  });
}
