import { describe, expect, it } from "vitest";
import { adjustFits, collectable, holdFits, startMinimum } from "./limits.js";

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
