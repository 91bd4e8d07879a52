import { formatAmount, type Unit } from "@tollgate/rating";

export type DenialReason =
  | "INSUFFICIENT_CREDITS"
  | "SPEND_CAP_REACHED"
  | "NOT_ELIGIBLE"
  | "FREE_CREDITS_EXPIRED"
  | "BELOW_LOW_CREDIT_LIMIT"
  | "ACCOUNT_SUSPENDED"
  | "BUDGET_EXCEEDED";

/** What a balance denial is about: the amount needed, what is available, the limit that applies, in one unit. */
export interface BalanceShortfall {
  reason: DenialReason;
  unit: Unit;
  neededMicros: bigint;
  availableMicros: bigint;
  /** The spend cap (SPEND_CAP_REACHED), the low-credit limit (BELOW_LOW_CREDIT_LIMIT), otherwise the floor (0). */
  limitMicros: bigint;
  /** What is asked for: "the request", "starting the run", "the deployment". */
  what: string;
}

/** The `message` of a balance denial: every figure a caller needs to act on it, with its unit. */
export function describeShortfall(s: BalanceShortfall): string {
  const needed = formatAmount(s.neededMicros, s.unit);
  const available = formatAmount(s.availableMicros, s.unit);
  const limit = formatAmount(s.limitMicros, s.unit);
  switch (s.reason) {
    case "SPEND_CAP_REACHED":
      return `${s.what} needs ${needed}; ${available} is left of the ${limit} spend cap for this cycle`;
    case "BELOW_LOW_CREDIT_LIMIT":
      return `${s.what} needs at least ${needed} available (the low-credit limit is ${limit}); ${available} available`;
    case "FREE_CREDITS_EXPIRED":
      return `${s.what} needs ${needed}; the free credits expired and ${available} available (limit ${limit})`;
    default:
      return `${s.what} needs ${needed}; ${available} available (balance less open holds), and it may not go below ${limit}`;
  }
}
