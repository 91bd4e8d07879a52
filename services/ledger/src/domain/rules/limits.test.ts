import { describe, expect, it } from "vitest";
import { adjustFits, collectable, holdFits, reachesNegativeLimit, startMinimum } from "./limits.js";
import { Machine } from "../fixtures.js";

describe("the negative limit", () => {
  it("collects down to −limit and no further", () => {
    expect(collectable(10n, 25n, 30n)).toEqual({ collectMicros: 30n, uncollectedMicros: 0n, proceed: true });
    expect(collectable(10n, 25n, 40n)).toEqual({ collectMicros: 35n, uncollectedMicros: 5n, proceed: false });
    expect(collectable(-30n, 25n, 1n)).toEqual({ collectMicros: 0n, uncollectedMicros: 1n, proceed: false });
  });

  it("answers proceed false when the charge lands exactly on the limit", () => {
    expect(collectable(10n, 25n, 35n)).toEqual({ collectMicros: 35n, uncollectedMicros: 0n, proceed: false });
  });

  it("never lends the negative limit to a hold", () => {
    expect(holdFits(10n, 10n)).toBe(true);
    expect(holdFits(10n, 11n)).toBe(false);
  });

  it("lets a debiting adjustment go down to −limit of balance − held, and any credit through", () => {
    expect(adjustFits(0n, 25n, -25n)).toBe(true);
    expect(adjustFits(0n, 25n, -26n)).toBe(false);
    expect(adjustFits(-100n, 25n, 1n)).toBe(true);
  });
});

describe("the low-credit limit", () => {
  it("is what a new deployment needs; a run needs something left", () => {
    expect(startMinimum("deployment", 500n)).toEqual({ minimumMicros: 500n, denial: "BELOW_LOW_CREDIT_LIMIT" });
    expect(startMinimum("deployment", 0n)).toEqual({ minimumMicros: 1n, denial: "INSUFFICIENT_CREDITS" });
    expect(startMinimum("run", 500n)).toEqual({ minimumMicros: 1n, denial: "INSUFFICIENT_CREDITS" });
  });
});

describe("reaching the negative limit", () => {
  it("is told once, by the charge that takes the balance to the limit, and again only after the balance came back above it", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    const reached = () => m.events.filter((e) => e.kind === "negative_limit_reached");
    m.ok(m.charge(110n)); // 100 → −10: above −25
    expect(reached()).toHaveLength(0);
    m.ok(m.charge(30n)); // −10 → −25 (15 collected, 15 not)
    expect(reached().map((e) => e.payload)).toEqual([
      { unit: "credits", balance_micros: "-25", negative_limit_micros: "25", uncollected_micros: "15", cycle: new Date(m.cycleStartMs).toISOString() },
    ]);
    m.ok(m.charge(5n)); // still at the limit: nothing collected, nothing said
    expect(reached()).toHaveLength(1);
    m.ok(m.grant(40n)); // back to 15 above zero
    m.ok(m.charge(50n));
    expect(reached()).toHaveLength(2);
    expect(reachesNegativeLimit(0n, 0n, 0n)).toBe(false);
    expect(reachesNegativeLimit(1n, 0n, 0n)).toBe(true);
  });
});
