import { describe, expect, it } from "vitest";
import { pool } from "../fixtures.js";
import { emptyAccount } from "../state.js";
import { deny } from "./denial.js";

describe("denial precedence", () => {
  const eligible = { allowed: true, metered: true, reason: "" };

  it("suspended before not eligible before the balance", () => {
    const suspended = emptyAccount("acct", { suspended: true });
    expect(deny({ account: suspended, nowMs: 0, unit: "credits", eligibility: { ...eligible, allowed: false, reason: "no" }, fits: false })?.reason).toBe("ACCOUNT_SUSPENDED");
    expect(deny({ account: emptyAccount("acct"), nowMs: 0, unit: "credits", eligibility: { ...eligible, allowed: false, reason: "not on this plan" }, fits: false })).toEqual({ reason: "NOT_ELIGIBLE", message: "not on this plan" });
    expect(deny({ account: emptyAccount("acct"), nowMs: 0, unit: "credits", eligibility: eligible, fits: true })).toBeNull();
  });

  it("a hard budget the amount would pass: after suspension and eligibility, before the balance", () => {
    const budget = { budgetId: "credits/agent/a", accountId: "acct", unit: "credits", scope: "agent" as const, scopeId: "a", limitMicros: 10_000_000n, mode: "hard" as const,
      perCycle: false, thresholdPercents: [], usedMicros: 8n, crossedPercents: [], periodStartMs: 0, reason: "r", actor: "s", updatedAtMs: 0, createdAtMs: 0 };
    const over = { budget, roomMicros: 2_000_000n, neededMicros: 5_500_000n };
    expect(deny({ account: emptyAccount("acct", { suspended: true }), nowMs: 0, unit: "credits", fits: false, budget: over })?.reason).toBe("ACCOUNT_SUSPENDED");
    expect(deny({ account: emptyAccount("acct"), nowMs: 0, unit: "credits", eligibility: { ...eligible, allowed: false, reason: "no" }, fits: false, budget: over })?.reason).toBe("NOT_ELIGIBLE");
    expect(deny({ account: emptyAccount("acct"), nowMs: 0, unit: "credits", fits: false, budget: over })).toEqual({
      reason: "BUDGET_EXCEEDED", message: "needs 5.5 credits; the agent a budget has 2 credits of its 10 credits left",
    });
  });

  it("names the balance: spend cap, expired free credits, low-credit limit, else insufficient credits", () => {
    const account = emptyAccount("acct");
    expect(deny({ account, nowMs: 0, unit: "usd", fits: false })?.reason).toBe("SPEND_CAP_REACHED");
    expect(deny({ account, nowMs: 0, unit: "credits", fits: false })?.reason).toBe("INSUFFICIENT_CREDITS");
    expect(deny({ account, nowMs: 0, unit: "credits", fits: false, balanceDenial: "BELOW_LOW_CREDIT_LIMIT" })?.reason).toBe("BELOW_LOW_CREDIT_LIMIT");
    account.pools.set("free", pool({ poolId: "free", kind: "free_grant", closed: true }));
    expect(deny({ account, nowMs: 0, unit: "credits", fits: false })?.reason).toBe("FREE_CREDITS_EXPIRED");
    account.pools.set("bonus", pool({ poolId: "bonus", kind: "bonus" }));
    expect(deny({ account, nowMs: 0, unit: "credits", fits: false })?.reason).toBe("INSUFFICIENT_CREDITS");
  });
});
