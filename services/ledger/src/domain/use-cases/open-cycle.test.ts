import { describe, expect, it } from "vitest";
import type { AccountView } from "../account-view.js";
import { OpenCycles } from "./open-cycle.js";

const CREDIT = 1_000_000n;

/** The account as the feed brings it: each change a new view. */
function view(negativeLimitCredits: bigint): AccountView {
  return {
    accountId: "acme", status: "active", planId: "team", planVersion: 1n, cycleAnchor: new Date("2026-11-01T00:00:00Z"), rateTableId: "rates",
    drawdownOrder: [], thresholdPercents: [],
    units: [{ unit: "credits", allotmentMicros: 100n * CREDIT, negativeLimitMicros: negativeLimitCredits * CREDIT, lowCreditLimitMicros: 0n }],
    billingMode: "credits", seats: 1, deploymentMode: "cloud", eligibility: [], meteredBuckets: [], signupGrants: [],
  };
}

describe("OpenCycles", () => {
  const now = new Date("2026-11-20T12:00:00Z");

  it("knows a cycle opened with the account's view open, in that cycle and unit only", () => {
    const cycles = new OpenCycles();
    const current = view(0n);
    cycles.remember(cycles.key(current, now, "credits"));
    expect(cycles.isOpen(cycles.key(current, now, "credits"))).toBe(true);
    expect(cycles.isOpen(cycles.key(current, now, "tool_runs"))).toBe(false); // a unit the plan does not name opens a balance
    expect(cycles.isOpen(cycles.key(current, new Date("2026-12-02T00:00:00Z"), "credits"))).toBe(false); // the next cycle
  });

  it("opens the cycle again after any change the feed brings, also to terms it was opened with before", () => {
    // This replica opened the cycle under a limit of 0. The limit was raised to 50 and taken back to 0 while another
    // replica served the account (and wrote 50): this one never opened the raised terms, and must write 0 again.
    const cycles = new OpenCycles();
    const before = view(0n);
    cycles.remember(cycles.key(before, now, "credits"));
    view(50n); // the raise, seen here only in the feed
    const takenBack = view(0n);
    expect(cycles.isOpen(cycles.key(takenBack, now, "credits"))).toBe(false);
    cycles.remember(cycles.key(takenBack, now, "credits"));
    expect(cycles.isOpen(cycles.key(takenBack, now, "credits"))).toBe(true);
    expect(cycles.isOpen(cycles.key(before, now, "credits"))).toBe(false); // only the latest view is remembered
  });
});
