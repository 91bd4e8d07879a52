import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import type { PlanVersion } from "../data/plan-version.entity.js";
import { Plans, type PlanRules } from "./plans.js";

/** The plans a fake store was asked to keep: a refused plan must never get there. */
function publisher() {
  const published: PlanVersion[] = [];
  const store = {
    async appendPlan(plan: { planId: string; document: Record<string, unknown>; publishedBy: string; publishedOnBehalfOf: string | null; reason: string }): Promise<PlanVersion> {
      const row = { ...plan, version: String(published.length + 1), publishedAt: new Date() } as PlanVersion;
      published.push(row);
      return row;
    },
    latestPlan: async (planId: string) => published.findLast((p) => p.planId === planId) ?? null,
    planVersion: async (version: bigint) => published.find((p) => BigInt(p.version) === version) ?? null,
  };
  return { plans: new Plans(store), published };
}

const valid: PlanRules = {
  allotments: [{ unit: "UNIT_CREDITS", amountMicros: 100_000_000n }],
  signupGrants: [],
  limits: [{ unit: "UNIT_CREDITS", lowCreditLimitMicros: 5_000_000n, negativeLimitMicros: 10_000_000n }],
  bannerPercents: [50, 100],
  emailPercents: [50],
  upgradePromptPercent: 75,
  referralPromptPercent: 0,
  addOnPrices: [{ unit: "UNIT_CREDITS", usdMicrosPerUnit: 10_000n }],
};

/** The field named by refusing a plan with these rules; nothing is published. */
async function refusedField(rules: Partial<PlanRules>): Promise<string> {
  const { plans, published } = publisher();
  const error = await plans.publish("team", { ...valid, ...rules }, {}, "admin", "test").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(published).toEqual([]);
  return (error as InvalidArgumentError).field;
}

describe("publishing a plan", () => {
  it("refuses a pool kind named twice in the draw-down order", async () => {
    expect(await refusedField({ drawdownOrder: ["POOL_KIND_BONUS", "POOL_KIND_ADD_ON", "POOL_KIND_BONUS"] })).toBe("plan.drawdown_order[2]");
  });

  it("refuses a second allotment of a unit (the ledger adds them up into one pool, which could pass the largest amount)", async () => {
    const twice = [{ unit: "UNIT_CREDITS", amountMicros: 10n ** 15n }, { unit: "UNIT_TOOL_RUNS", amountMicros: 5n }, { unit: "UNIT_CREDITS", amountMicros: 10n ** 15n }];
    expect(await refusedField({ allotments: twice })).toBe("plan.allotments[2].unit");
  });

  it("publishes limits of zero, the largest add-on price and prompts at 0 (the default) or a percent", async () => {
    const { plans, published } = publisher();
    await plans.publish("team", valid, {}, "admin", "launch");
    await plans.publish("free", {
      ...valid,
      limits: [{ unit: "UNIT_CREDITS", lowCreditLimitMicros: 0n, negativeLimitMicros: 0n }],
      upgradePromptPercent: 0,
      referralPromptPercent: 100,
      addOnPrices: [{ unit: "UNIT_CREDITS", usdMicrosPerUnit: 10n ** 15n }],
    }, {}, "admin", "launch");
    expect(published.map((p) => p.planId)).toEqual(["team", "free"]);
  });

  it("refuses a negative low-credit limit, a unit's or a kind of work's, which the ledger would refuse every write under", async () => {
    expect(await refusedField({ limits: [{ unit: "UNIT_CREDITS", lowCreditLimitMicros: -1n, negativeLimitMicros: 0n }] }))
      .toBe("plan.limits[0].low_credit_limit_micros");
    expect(await refusedField({
      limits: [
        { unit: "UNIT_CREDITS", lowCreditLimitMicros: 0n, negativeLimitMicros: 30_000_000n },
        { unit: "UNIT_CREDITS", lowCreditLimitMicros: -5_000_000n, negativeLimitMicros: 10_000_000n, workKind: "model_hosting" },
      ],
    })).toBe("plan.limits[1].low_credit_limit_micros");
  });

  it("refuses a negative negative limit (it is a distance below zero)", async () => {
    expect(await refusedField({ limits: [{ unit: "UNIT_CREDITS", lowCreditLimitMicros: 0n, negativeLimitMicros: -1n }] }))
      .toBe("plan.limits[0].negative_limit_micros");
  });

  it("refuses an add-on price out of the range of any price", async () => {
    expect(await refusedField({ addOnPrices: [{ unit: "UNIT_CREDITS", usdMicrosPerUnit: 10n ** 15n + 1n }] }))
      .toBe("plan.add_on_prices[0].usd_micros_per_unit");
    expect(await refusedField({ addOnPrices: [{ unit: "UNIT_CREDITS", usdMicrosPerUnit: -1n }] }))
      .toBe("plan.add_on_prices[0].usd_micros_per_unit");
  });

  it("refuses upgrade and referral prompts that are not a percent, as it does banner and email thresholds", async () => {
    expect(await refusedField({ upgradePromptPercent: 150 })).toBe("plan.thresholds.upgrade_prompt_percent");
    expect(await refusedField({ referralPromptPercent: -1 })).toBe("plan.thresholds.referral_prompt_percent");
    expect(await refusedField({ bannerPercents: [0] })).toBe("plan.thresholds.banner_percents[0]");
  });
});
