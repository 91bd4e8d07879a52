import { maxBigint, minBigint } from "../balance.js";
import type { AccountState, Hold, HoldStatus } from "../state.js";
import type { Write } from "../writes.js";

/** What a hold still reserves. */
export function remaining(hold: Hold): bigint {
  return maxBigint(hold.amountMicros - hold.chargedMicros, 0n);
}

/**
 * Expired holds give back what they still reserve: every open hold of the
 * account whose expiry has passed turns `expired`. Run before any write on
 * the account (and by the sweeper), so no rule ever sees an expired hold open.
 */
export function expireHolds(account: AccountState, nowMs: number): Write[] {
  const writes: Write[] = [];
  const returned = new Map<string, bigint>();
  for (const hold of account.holds.values()) {
    if (hold.status !== "open" || hold.expiresAtMs > nowMs) continue;
    writes.push({ type: "holdChange", accountId: account.accountId, holdId: hold.holdId, chargedDeltaMicros: 0n, status: "expired", closedAtMs: nowMs });
    returned.set(hold.unit, (returned.get(hold.unit) ?? 0n) + remaining(hold));
  }
  for (const [unit, micros] of returned) {
    if (micros > 0n) writes.push({ type: "held", accountId: account.accountId, unit, deltaMicros: -micros });
  }
  return writes;
}

/** What a hold reserves for a charge on it: nothing once it has expired. */
export function reserved(hold: Hold): bigint {
  return hold.status === "open" ? remaining(hold) : 0n;
}

/**
 * A charge on a hold: what it collected consumes the hold up to what the hold
 * still reserves (so `held` falls exactly as the hold's remainder does, even
 * when less than the usage could be collected); `final` releases the rest and
 * closes the hold. An expired hold reserves nothing any more: the charge is
 * usage above it and the hold stays expired.
 */
export function chargeHold(hold: Hold, collectedMicros: bigint, final: boolean) {
  const reservedMicros = reserved(hold);
  const consumedMicros = minBigint(collectedMicros, reservedMicros);
  const releasedMicros = final ? reservedMicros - consumedMicros : 0n;
  return { reservedMicros, consumedMicros, releasedMicros, closes: final && hold.status === "open" };
}

/** Closed by the caller's own last word: a charge on it would bill twice. */
export function isClosedByCaller(hold: Hold): boolean {
  return hold.status === "charged" || hold.status === "released";
}

/**
 * Extending an open hold: what it reserves grows by `addMicros` and its expiry
 * moves to `nowMs + ttlMs` when that is later (an extension never shortens a
 * hold). Only an open hold can be extended: an expired one has returned its
 * reservation (authorize again), a charged or released one is closed.
 */
export function extension(hold: Hold, addMicros: bigint, ttlMs: number, nowMs: number): { expiresAtMs: number } | { closed: HoldStatus } {
  if (hold.status !== "open") return { closed: hold.status };
  return { expiresAtMs: ttlMs > 0 ? Math.max(hold.expiresAtMs, nowMs + ttlMs) : hold.expiresAtMs };
}
