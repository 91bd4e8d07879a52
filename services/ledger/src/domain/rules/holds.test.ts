import { describe, expect, it } from "vitest";
import { emptyAccount, type Hold } from "../state.js";
import { chargeHold, expireHolds, isClosedByCaller, remaining } from "./holds.js";

const hold = (fields: Partial<Hold> & Pick<Hold, "holdId">): Hold => ({
  accountId: "acct", unit: "credits", bucket: "ai", amountMicros: 10n, chargedMicros: 0n, status: "open", expiresAtMs: 100, createdAtMs: 0,
  closedAtMs: null, attribution: {}, rateTableVersion: 1n, pricedUsage: [], pricedMicros: 0n, ...fields,
});

describe("holds", () => {
  it("reserve what is not yet charged, never below zero", () => {
    expect(remaining(hold({ holdId: "h", chargedMicros: 4n }))).toBe(6n);
    expect(remaining(hold({ holdId: "h", chargedMicros: 14n }))).toBe(0n);
  });

  it("expire at their expiry, giving back what they reserve, per unit", () => {
    const account = emptyAccount("acct");
    account.holds.set("a", hold({ holdId: "a", expiresAtMs: 100, chargedMicros: 3n }));
    account.holds.set("b", hold({ holdId: "b", expiresAtMs: 101 }));
    account.holds.set("c", hold({ holdId: "c", expiresAtMs: 50, status: "charged" }));
    expect(expireHolds(account, 100)).toEqual([
      { type: "holdChange", accountId: "acct", holdId: "a", chargedDeltaMicros: 0n, status: "expired", closedAtMs: 100 },
      { type: "held", accountId: "acct", unit: "credits", deltaMicros: -7n },
    ]);
  });

  it("are consumed by a charge, the rest released when final", () => {
    expect(chargeHold(hold({ holdId: "h" }), 4n, false)).toEqual({ reservedMicros: 10n, consumedMicros: 4n, releasedMicros: 0n, closes: false });
    expect(chargeHold(hold({ holdId: "h" }), 4n, true)).toEqual({ reservedMicros: 10n, consumedMicros: 4n, releasedMicros: 6n, closes: true });
    expect(chargeHold(hold({ holdId: "h" }), 14n, true)).toEqual({ reservedMicros: 10n, consumedMicros: 10n, releasedMicros: 0n, closes: true });
  });

  it("reserve nothing once expired: a charge is usage above them and leaves them expired", () => {
    expect(chargeHold(hold({ holdId: "h", status: "expired" }), 4n, true)).toEqual({ reservedMicros: 0n, consumedMicros: 0n, releasedMicros: 0n, closes: false });
    expect(isClosedByCaller(hold({ holdId: "h", status: "expired" }))).toBe(false);
    expect(isClosedByCaller(hold({ holdId: "h", status: "charged" }))).toBe(true);
    expect(isClosedByCaller(hold({ holdId: "h", status: "released" }))).toBe(true);
  });
});

describe("a charge on a hold below the negative limit", () => {
  it("consumes only what it collected, so held falls as the hold's remainder does", () => {
    expect(chargeHold(hold({ holdId: "h" }), 3n, false)).toEqual({ reservedMicros: 10n, consumedMicros: 3n, releasedMicros: 0n, closes: false });
    expect(chargeHold(hold({ holdId: "h" }), 3n, true)).toEqual({ reservedMicros: 10n, consumedMicros: 3n, releasedMicros: 7n, closes: true });
  });
});
