import { describe, expect, it } from "vitest";
import { pool } from "../fixtures.js";
import { emptyAccount } from "../state.js";
import { deny } from "./denial.js";

describe("denial precedence", () => {
  const eligible = { allowed: true, metered: true, reason: "" };

  it("suspended before not eligible before the balance", () => {
    const suspended = emptyAccount("acct", { suspended: true });
    expect(deny({ account: suspended, unit: "credits", eligibility: { ...eligible, allowed: false, reason: "no" }, fits: false })?.reason).toBe("ACCOUNT_SUSPENDED");
    expect(deny({ account: emptyAccount("acct"), unit: "credits", eligibility: { ...eligible, allowed: false, reason: "not on this plan" }, fits: false })).toEqual({ reason: "NOT_ELIGIBLE", message: "not on this plan" });
    expect(deny({ account: emptyAccount("acct"), unit: "credits", eligibility: eligible, fits: true })).toBeNull();
  });

  it("names the balance: spend cap, expired free credits, low-credit limit, else insufficient credits", () => {
    const account = emptyAccount("acct");
    expect(deny({ account, unit: "usd", fits: false })?.reason).toBe("SPEND_CAP_REACHED");
    expect(deny({ account, unit: "credits", fits: false })?.reason).toBe("INSUFFICIENT_CREDITS");
    expect(deny({ account, unit: "credits", fits: false, balanceDenial: "BELOW_LOW_CREDIT_LIMIT" })?.reason).toBe("BELOW_LOW_CREDIT_LIMIT");
    account.pools.set("free", pool({ poolId: "free", kind: "free_grant", closed: true }));
    expect(deny({ account, unit: "credits", fits: false })?.reason).toBe("FREE_CREDITS_EXPIRED");
    account.pools.set("bonus", pool({ poolId: "bonus", kind: "bonus" }));
    expect(deny({ account, unit: "credits", fits: false })?.reason).toBe("INSUFFICIENT_CREDITS");
  });
});
