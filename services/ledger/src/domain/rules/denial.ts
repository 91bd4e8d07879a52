import type { DenialReason, Eligibility } from "../commands.js";
import { formatAmount, type Unit } from "@tollgate/rating";
import { pastExpiry } from "../balance.js";
import type { AccountState, Budget } from "../state.js";

/**
 * Denial precedence, first that applies wins. Denials are answers
 * (`allowed = false`), recorded under the idempotency key like any answer:
 *   1. ACCOUNT_SUSPENDED
 *   2. NOT_ELIGIBLE (the plan rule's reason in `message`)
 *   3. BUDGET_EXCEEDED: the amount does not fit in a hard budget over it (rules/budgets.ts)
 *   4. the balance, when the amount does not fit:
 *      SPEND_CAP_REACHED for a BYOM account's USD cap;
 *      FREE_CREDITS_EXPIRED when sign-up credits have expired (closed, or past their expiry still owing) and no other pool is open;
 *      BELOW_LOW_CREDIT_LIMIT for a new deployment under the low-credit limit;
 *      INSUFFICIENT_CREDITS otherwise.
 */
export function deny(input: {
  account: AccountState;
  unit: string;
  nowMs: number;
  eligibility?: Eligibility;
  fits: boolean;
  /** The denial for a balance that does not fit, when not the unit's own (deployments: BELOW_LOW_CREDIT_LIMIT). */
  balanceDenial?: DenialReason;
  /** The hard budget the amount would pass, and its room (rules/budgets.ts). */
  budget?: { budget: Budget; roomMicros: bigint; neededMicros: bigint } | null;
}): { reason: DenialReason; message: string } | null {
  const { account, unit, eligibility, fits, budget } = input;
  if (account.facts.suspended) return { reason: "ACCOUNT_SUSPENDED", message: "the account is suspended" };
  if (eligibility && !eligibility.allowed) return { reason: "NOT_ELIGIBLE", message: eligibility.reason };
  if (budget) {
    const b = budget.budget;
    const room = budget.roomMicros > 0n ? budget.roomMicros : 0n;
    return {
      reason: "BUDGET_EXCEEDED",
      message: `needs ${formatAmount(budget.neededMicros, b.unit as Unit)}; the ${b.scope} ${b.scopeId} budget has ${formatAmount(room, b.unit as Unit)} of its ${formatAmount(b.limitMicros, b.unit as Unit)} left${b.perCycle ? " this cycle" : ""}`,
    };
  }
  if (fits) return null;
  if (unit === "usd") return { reason: "SPEND_CAP_REACHED", message: "the spend cap for this cycle is reached" };
  if (freeCreditsExpired(account, unit, input.nowMs)) return { reason: "FREE_CREDITS_EXPIRED", message: "the free credits have expired" };
  if (input.balanceDenial && input.balanceDenial !== "INSUFFICIENT_CREDITS") return { reason: input.balanceDenial, message: "below the low-credit limit" };
  return { reason: "INSUFFICIENT_CREDITS", message: "not enough credits" };
}

/** Only expired sign-up credits: a free grant closed or past its expiry (one still owing stays open), and no other open pool of the unit. */
function freeCreditsExpired(account: AccountState, unit: string, nowMs: number): boolean {
  let expiredFree = false;
  for (const pool of account.pools.values()) {
    if (pool.unit !== unit) continue;
    if (pool.kind === "free_grant" && (pool.closed || pastExpiry(pool, nowMs))) {
      expiredFree = true;
      continue;
    }
    if (!pool.closed && pool.kind !== "free_grant") return false;
  }
  return expiredFree;
}
