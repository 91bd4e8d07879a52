import { describe, expect, it } from "vitest";
import { DEFAULT_RULES, decide, nextAttempt, type Recipients } from "./rules.js";

const recipients: Recipients = {
  emails: ["admin@acme.example"],
  webhooks: [{ url: "https://hooks.acme.example/tollgate", secret: "whsec_x" }],
  channelsByRule: {},
};

describe("notification rules", () => {
  it("sends a deployment's endpoint to the admins by email and webhook when it goes live, once per event", () => {
    const decisions = decide(
      { kind: "deployment_changed", accountId: "acme", sequence: 7n, deploymentId: "llama-ft", state: "deployed", endpoint: "https://models.acme.example/llama-ft", replicas: 2 },
      DEFAULT_RULES,
      recipients,
    );
    expect(decisions.banners).toEqual([]);
    expect(decisions.deliveries.map((d) => [d.channel, d.rule, d.dedupKey])).toEqual([
      ["email", "deployment_deployed", "acme:deployment:7:email:admin@acme.example"],
      ["webhook", "deployment_deployed", "acme:deployment:7:webhook:https://hooks.acme.example/tollgate"],
    ]);
    expect(decisions.deliveries[0]!.payload.text).toContain("https://models.acme.example/llama-ft");
  });

  it("tells the admins why work stopped", () => {
    const decisions = decide(
      { kind: "work_stopped", accountId: "acme", sequence: 9n, runId: "", deploymentId: "guard-1", message: "You've used all your available credits." },
      DEFAULT_RULES,
      recipients,
    );
    expect(decisions.deliveries.map((d) => d.payload.subject)).toEqual(["Deployment guard-1 was stopped", "Deployment guard-1 was stopped"]);
  });

  it("fixes the 100 % banner, emails only at the email thresholds, and honours per-rule channels", () => {
    const crossing = (t: number) => ({ kind: "threshold_crossed" as const, accountId: "acme", unit: "credits" as const, thresholdPercent: t, percentUsed: t, cycle: "2026-11-01" });
    expect(decide(crossing(100), DEFAULT_RULES, recipients).banners[0]?.kind).toBe("fixed");
    expect(decide(crossing(20), DEFAULT_RULES, recipients).deliveries.map((d) => d.channel)).toEqual(["webhook"]);
    const webhookOnly = { ...recipients, channelsByRule: { usage_50: ["webhook"] } };
    expect(decide(crossing(50), DEFAULT_RULES, webhookOnly).deliveries.map((d) => d.channel)).toEqual(["webhook"]);
  });

  it("backs off exponentially and dead-letters after the last attempt", () => {
    expect([1, 2, 3, 4].map((a) => nextAttempt(a, 1_000, 5).delayMs)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(nextAttempt(5, 1_000, 5)).toEqual({ deadLetter: true, delayMs: 0 });
  });
});
