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
  const answer = await run(deps, view, {
    type: "grant", accountId: request.accountId, unit: request.unit, kind: request.poolKind, amountMicros: request.amountMicros,
    expiresAtMs: request.expiresAt?.getTime() ?? null, priority: request.priority, reason: request.reason, actor: request.actor,
    ...supportContext(request),
    idempotencyKey: request.idempotencyKey, requestHash: supportFingerprint("grant", rest).requestHash, traceId, reload: request.reload ?? null,
  });
  // An auto-reloading pool bills each reload at the plan's add-on price (its pool_reloaded event carries it), as it was when
  // the pool was granted. The price is set after the grant commits: a replay sets it only if the first call did not get to
  // (the plan's price may have changed since).
  if (request.reload && deps.reloadPrices) {
    await deps.reloadPrices.set(answer.poolId, view.addOnPrices?.[request.unit as keyof NonNullable<typeof view.addOnPrices>] ?? null, { ifUnset: answer.replayed === true });
  }
  return answer;
}
