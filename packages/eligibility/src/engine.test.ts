import { describe, expect, it } from "vitest";
import { decideEligibility, type EligibilityRule, type RunContext } from "./engine.js";

const cloud = { seats: 5, deploymentMode: "cloud" as const };
const at = (inferenceSource: RunContext["inferenceSource"]): RunContext => ({ runLocation: "cloud", inferenceSource, computeSource: "hosted" });

describe("the defaults of a plan without eligibility rules", () => {
  it("meters every bucket of managed inference", () => {
    expect(decideEligibility([], cloud, at("managed"))).toMatchObject({ allowed: true, metered: true, buckets: ["ai", "compute", "platform", "tool_runs"] });
  });

  it.each(["byok", "byollm", "custom_endpoint"] as const)("draws no credits for the model call of %s inference, and meters the rest", (source) => {
    const decision = decideEligibility([], cloud, at(source));
    expect(decision).toMatchObject({ allowed: true, metered: true, buckets: ["compute", "platform", "tool_runs"] });
  });

  it("still meters a BYOM account's own-key model calls (in USD against its cap), also where a rule leaves them out", () => {
    const byom = { ...cloud, billingMode: "byom_usd" as const };
    expect(decideEligibility([], byom, at("byok")).buckets).toContain("ai");
    const nothing: EligibilityRule = { runLocations: [], inferenceSources: ["byok"], computeSources: [], maxSeats: 0, allowed: true, reason: "free", buckets: [], metered: false };
    expect(decideEligibility([nothing], byom, at("byok"))).toMatchObject({ metered: true, buckets: ["ai"] });
  });

  it("leaves self-hosted installations unmetered whatever the plan says", () => {
    expect(decideEligibility([], { seats: 5, deploymentMode: "self_hosted", billingMode: "byom_usd" }, at("byok"))).toMatchObject({ allowed: true, metered: false, buckets: [] });
  });

  it("lets a plan override them with a rule: own-key model calls charged in credits", () => {
    const charged: EligibilityRule = { runLocations: [], inferenceSources: [], computeSources: [], maxSeats: 0, allowed: true, reason: "platform fee on every call", buckets: ["ai"], metered: true };
    expect(decideEligibility([charged], cloud, at("byok"))).toMatchObject({ metered: true, buckets: ["ai"] });
  });
});

describe("a plan's metered buckets", () => {
  it("charges only the buckets the plan meters, whatever the defaults or a rule say; none named meters what they say", () => {
    const aiOnly = { ...cloud, meteredBuckets: ["ai"] as const };
    expect(decideEligibility([], aiOnly, at("managed"))).toMatchObject({ allowed: true, metered: true, buckets: ["ai"] });
    const everything: EligibilityRule = { runLocations: [], inferenceSources: [], computeSources: [], maxSeats: 0, allowed: true, reason: "", buckets: ["ai", "platform"], metered: true };
    expect(decideEligibility([everything], { ...cloud, meteredBuckets: ["platform", "compute"] }, at("managed")).buckets).toEqual(["platform"]);
    expect(decideEligibility([], { ...cloud, meteredBuckets: [] }, at("managed")).buckets).toEqual(["ai", "compute", "platform", "tool_runs"]);
  });

  it("still tracks a BYOM account's own-key model calls against its spend cap when the plan meters no ai bucket", () => {
    expect(decideEligibility([], { ...cloud, billingMode: "byom_usd", meteredBuckets: ["compute"] }, at("byok"))).toMatchObject({ metered: true, buckets: ["compute", "ai"] });
  });
});
