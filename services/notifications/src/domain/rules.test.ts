import { describe, expect, it } from "vitest";
import { decide, nextAttempt, promptsShown, runOutWarning, type Recipients } from "./rules.js";
import { PLAN_RULES } from "./rules.fixture.js";

const recipients: Recipients = {
  emails: ["admin@acme.example"],
  adminEmails: ["admin@acme.example"],
  webhooks: [{ url: "https://hooks.acme.example/tollgate", secret: "whsec_x" }],
  channelsByRule: {},
};

describe("notification rules", () => {
  it("sends a deployment's endpoint to the admins by email and webhook when it goes live, once per event", () => {
    const decisions = decide(
      { kind: "deployment_changed", accountId: "acme", sequence: 7n, deploymentId: "llama-ft", state: "deployed", endpoint: "https://models.acme.example/llama-ft", replicas: 2 },
      PLAN_RULES,
      recipients,
    );
    expect(decisions.banners).toEqual([]);
    expect(decisions.deliveries.map((d) => [d.channel, d.rule, d.dedupKey])).toEqual([
      ["email", "deployment_deployed", "acme:deployment:7:email:admin@acme.example"],
      ["webhook", "deployment_deployed", "acme:deployment:7:webhook:https://hooks.acme.example/tollgate"],
    ]);
    expect(decisions.deliveries[0]!.payload.text).toContain("https://models.acme.example/llama-ft");
  });

  it("warns of a budget's crossing with a banner and a webhook keyed by the event; a hard budget's 100 % banner is fixed", () => {
    const crossing = (t: number, mode: "soft" | "hard", sequence: bigint) => decide({
      kind: "budget_crossed", accountId: "acme", sequence, budgetId: "credits/agent/bot", unit: "credits", scope: "agent", scopeId: "bot", mode,
      thresholdPercent: t, percentUsed: t, usedMicros: BigInt(t) * 1_000_000n, limitMicros: 100_000_000n,
    }, PLAN_RULES, recipients);
    const soft = crossing(80, "soft", 11n);
    expect(soft.banners).toEqual([expect.objectContaining({ rule: "budget_80", kind: "dismissible", dedupKey: "acme:budget:11" })]);
    expect(soft.banners[0]!.message).toBe("The agent bot has used 80% of its 100 credits budget (80 used).");
    expect(soft.deliveries.map((d) => [d.channel, d.payload.type, d.dedupKey])).toEqual([["webhook", "budget.threshold_crossed", "acme:budget:11:webhook:https://hooks.acme.example/tollgate"]]);
    expect(crossing(100, "hard", 12n).banners[0]).toMatchObject({ kind: "fixed", message: expect.stringContaining("refused until the budget is raised") });
    // A budget in USD is told in dollars.
    const dollars = decide({
      kind: "budget_crossed", accountId: "acme", sequence: 13n, budgetId: "usd/agent/bot", unit: "usd", scope: "agent", scopeId: "bot", mode: "soft",
      thresholdPercent: 80, percentUsed: 80, usedMicros: 80_000_000n, limitMicros: 100_000_000n,
    }, PLAN_RULES, recipients);
    expect(dollars.banners[0]!.message).toBe("The agent bot has used 80% of its $100.00 budget ($80.00 used).");
  });

  it("emails an admin once when also chosen as a recipient, however the address is cased", () => {
    const chosen: Recipients = { ...recipients, emails: ["admin@acme.example"], adminEmails: ["Admin@Acme.example"] };
    const reached = decide({
      kind: "negative_limit_reached", accountId: "acme", sequence: 5n, unit: "credits", balanceMicros: 0n, negativeLimitMicros: 0n, uncollectedMicros: 0n, cycle: "2026-12",
    }, PLAN_RULES, chosen);
    expect(reached.deliveries.filter((d) => d.channel === "email").map((d) => d.recipient)).toEqual(["Admin@Acme.example"]);
  });

  it("says the credits are used up at a limit of zero, and where the balance stopped below zero at another, with a true minus sign", () => {
    const reached = (negativeLimitMicros: bigint, balanceMicros: bigint) => decide({
      kind: "negative_limit_reached", accountId: "acme", sequence: 5n, unit: "credits", balanceMicros, negativeLimitMicros, uncollectedMicros: 0n, cycle: "2026-12",
    }, PLAN_RULES, recipients).deliveries[0]!.payload.text;
    expect(reached(0n, 0n)).toBe("Account acme has used all its credits. New usage is not charged and running work stops; add credits to continue.");
    expect(reached(30_000_000n, -30_000_000n)).toContain("is at −30 credits, as far below zero as it may go (its negative limit, −30).");
  });

  it("emails the admins that the balance reached its negative limit (running work stops), beside the chosen recipients, whatever the channel preferences", () => {
    const chosen: Recipients = { ...recipients, emails: ["billing@acme.example"], adminEmails: ["admin@acme.example"], channelsByRule: { negative_limit_reached: ["webhook"] } };
    const decisions = decide({
      kind: "negative_limit_reached", accountId: "acme", sequence: 6n, unit: "credits", balanceMicros: 0n, negativeLimitMicros: 0n, uncollectedMicros: 0n, cycle: "2026-12",
    }, PLAN_RULES, chosen);
    expect(decisions.deliveries.map((d) => [d.channel, d.recipient])).toEqual([
      ["email", "admin@acme.example"], ["email", "billing@acme.example"], ["webhook", "https://hooks.acme.example/tollgate"],
    ]);
  });

  it("tells the admins why work stopped", () => {
    const decisions = decide(
      { kind: "work_stopped", accountId: "acme", sequence: 9n, runId: "", deploymentId: "guard-1", message: "You've used all your available credits." },
      PLAN_RULES,
      recipients,
    );
    expect(decisions.deliveries.map((d) => d.payload.subject)).toEqual(["Deployment guard-1 was stopped", "Deployment guard-1 was stopped"]);
  });

  it("fixes the 100 % banner, emails only at the email thresholds, and honours per-rule channels", () => {
    const crossing = (t: number) => ({ kind: "threshold_crossed" as const, accountId: "acme", sequence: 7n, unit: "credits" as const, thresholdPercent: t, percentUsed: t, cycle: "2026-11-01" });
    expect(decide(crossing(100), PLAN_RULES, recipients).banners[0]?.kind).toBe("fixed");
    expect(decide(crossing(20), PLAN_RULES, recipients).deliveries.map((d) => d.channel)).toEqual(["webhook"]);
    const webhookOnly = { ...recipients, channelsByRule: { usage_50: ["webhook"] } };
    expect(decide(crossing(50), PLAN_RULES, webhookOnly).deliveries.map((d) => d.channel)).toEqual(["webhook"]);
  });

  it("always tells the admins and the webhooks that the spend cap is reached, whatever the channel preferences", () => {
    const quiet = { ...recipients, emails: ["finance@acme.example"], channelsByRule: { spend_cap_reached: [] } };
    const decisions = decide({ kind: "spend_cap_reached", accountId: "acme", capMicros: 1_000_000n, spentMicros: 1_000_000n, cycle: "2026-11-01" }, PLAN_RULES, quiet);
    expect(decisions.deliveries.map((d) => [d.channel, d.recipient, d.dedupKey])).toEqual([
      ["email", "admin@acme.example", "acme:usd:2026-11-01:spend_cap_reached:email:admin@acme.example"],
      ["email", "finance@acme.example", "acme:usd:2026-11-01:spend_cap_reached:email:finance@acme.example"],
      ["webhook", "https://hooks.acme.example/tollgate", "acme:usd:2026-11-01:spend_cap_reached:webhook:https://hooks.acme.example/tollgate"],
    ]);
    expect(decisions.deliveries[0]!.payload.text).toContain("has spent $1.00 of its $1.00 monthly AI spend cap");
  });

  it("bills an add-on reload by webhook, once per reload event, with its price when there is one", () => {
    const reload = { kind: "pool_reloaded" as const, accountId: "acme", sequence: 42n, poolId: "p-1", unit: "credits" as const, amountMicros: 40_500_000n };
    const priced = decide({ ...reload, priceUsdMicros: 405_000n }, PLAN_RULES, recipients);
    expect(priced.deliveries.map((d) => [d.channel, d.dedupKey])).toEqual([["webhook", "acme:reload:42:webhook:https://hooks.acme.example/tollgate"]]);
    expect(priced.deliveries[0]!.payload).toMatchObject({
      type: "pool.reloaded", text: "Add-on pool p-1 was reloaded with 40.5 credits for $0.405.",
      data: { pool_id: "p-1", unit: "credits", amount_micros: "40500000", price_usd_micros: "405000" },
    });
    expect(decide({ ...reload, priceUsdMicros: undefined }, PLAN_RULES, recipients).deliveries[0]!.payload.data).not.toHaveProperty("price_usd_micros");
  });

  it("backs off exponentially and dead-letters after the last attempt", () => {
    expect([1, 2, 3, 4].map((a) => nextAttempt(a, 1_000, 5).delayMs)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(nextAttempt(5, 1_000, 5)).toEqual({ deadLetter: true, delayMs: 0 });
  });

  describe("the run-out projection (the rule itself: @tollgate/projection)", () => {
    const cycleEnd = new Date("2026-12-01T00:00:00Z");

    it("says in the banner and the webhook when the credits run out, once per cycle", () => {
      const decisions = runOutWarning("acme", "2026-11-01", new Date("2026-11-22T12:00:00Z"), cycleEnd, recipients);
      expect(decisions.banners).toMatchObject([{ rule: "run_out_warning", dedupKey: "acme:2026-11-01:run_out_warning" }]);
      expect(decisions.banners[0]!.message).toBe("At the current rate your credits will run out on 2026-11-22, before the cycle ends on 2026-12-01. Upgrade to keep going.");
      expect(decisions.deliveries.map((d) => [d.channel, d.payload.data.run_out_at])).toEqual([["webhook", "2026-11-22T12:00:00.000Z"]]);
    });
  });
});

describe("in-product prompts", () => {
  it("shows the upgrade button always on a free tier, otherwise from the plan's percent; the referral invite from its own; 0 is none", () => {
    const paid = { freeTier: false, upgradePromptPercent: 75, referralPromptPercent: 50 };
    expect(promptsShown(paid, 0)).toEqual({ upgrade: false, referral: false });
    expect(promptsShown(paid, 50)).toEqual({ upgrade: false, referral: true });
    expect(promptsShown(paid, 75)).toEqual({ upgrade: true, referral: true });
    expect(promptsShown({ ...paid, freeTier: true }, 0)).toEqual({ upgrade: true, referral: false });
    expect(promptsShown({ freeTier: false, upgradePromptPercent: 0, referralPromptPercent: 0 }, 100)).toEqual({ upgrade: false, referral: false });
  });
});
