import { maxBigint, minBigint } from "../balance.js";

/**
 * The negative limit: usage above a hold is collected down to
 * −negative_limit and no further. `availableOthersMicros` is the balance less
 * every other open hold (the charged hold's remainder is the charge's own).
 */
export function collectable(availableOthersMicros: bigint, negativeLimitMicros: bigint, amountMicros: bigint) {
  const roomMicros = availableOthersMicros + negativeLimitMicros;
  const collectMicros = minBigint(amountMicros, maxBigint(roomMicros, 0n));
  const uncollectedMicros = amountMicros - collectMicros;
  return {
    collectMicros,
    uncollectedMicros,
    /** Everything collected and something still left above the limit: at exactly the limit the next charge could collect nothing. */
    proceed: uncollectedMicros === 0n && roomMicros - collectMicros > 0n,
  };
}

/**
 * The negative limit reached: a charge took the unit's balance from above
 * −negative_limit to at or below it, so what the unit may owe is used up and
 * usage past it goes uncollected. Told once per crossing (a
 * `negative_limit_reached` event the admins hear of); the balance has to come
 * back above the limit before another.
 */
export function reachesNegativeLimit(balanceBeforeMicros: bigint, balanceAfterMicros: bigint, negativeLimitMicros: bigint): boolean {
  return balanceBeforeMicros > -negativeLimitMicros && balanceAfterMicros <= -negativeLimitMicros;
}

/** An Authorize reserves only what the account has: the estimate must fit in balance − held; the negative limit is never lent to a hold. */
export function holdFits(availableMicros: bigint, amountMicros: bigint): boolean {
  return availableMicros >= amountMicros;
}

/** A debiting Adjust may not take balance − held below −negative_limit; a crediting one always passes. */
export function adjustFits(availableMicros: bigint, negativeLimitMicros: bigint, amountMicros: bigint): boolean {
  return amountMicros >= 0n || availableMicros + amountMicros >= -negativeLimitMicros;
}

/**
 * What new work needs available: a run needs something left (1 µ); a
 * deployment needs the low-credit limit when the plan sets one.
 */
export function startMinimum(kind: "run" | "deployment", lowCreditLimitMicros: bigint): { minimumMicros: bigint; denial: "BELOW_LOW_CREDIT_LIMIT" | "INSUFFICIENT_CREDITS" } {
  return kind === "deployment" && lowCreditLimitMicros > 0n
    ? { minimumMicros: lowCreditLimitMicros, denial: "BELOW_LOW_CREDIT_LIMIT" }
    : { minimumMicros: 1n, denial: "INSUFFICIENT_CREDITS" };
}
