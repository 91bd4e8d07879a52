import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, type pricingV1 } from "@tollgate/proto";
import { CREDIT } from "./fixtures.js";
import type { Platform } from "./platform.js";

const B = commonV1.Bucket;
const U = commonV1.Unit;

export const blockRuns = (block: string, runs: number): pricingV1.Usage => ({ kind: { $case: "blockRun", blockRun: { block, configuration: {}, runs: String(runs) } } });
export const toolRuns = (tool: string, runs: number): pricingV1.Usage => ({ kind: { $case: "toolRun", toolRun: { tool, runs: String(runs) } } });

/**
 * A team on seed 000's three buckets and seed 001's tool runs: replies (ai),
 * a sandbox block (compute, 1 credit a run), an orchestration block
 * (platform, 0.5 a run) and any tool (1 tool run each); 100 credits and
 * 10,000 tool runs a month.
 */
export async function seedTeam(platform: Platform, accountId: string): Promise<void> {
  const { pricing, entitlements } = platform.clients;
  const block = (bucket: commonV1.Bucket, name: string, micros: number): pricingV1.Rate => ({
    bucket, unit: U.UNIT_CREDITS, kind: { $case: "block", block: { block: name, microsPerRun: String(micros), configurationKey: "", microsPerRunByValue: {} } },
  });
  await call(pricing, pricing.publishRateTable, {
    tableId: "team-rates", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "seed", idempotencyKey: "",
    rates: [
      { bucket: B.BUCKET_AI, unit: U.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } } },
      block(B.BUCKET_COMPUTE, "sandbox", CREDIT),
      block(B.BUCKET_PLATFORM, "orchestrate", CREDIT / 2),
      { bucket: B.BUCKET_TOOL_RUNS, unit: U.UNIT_TOOL_RUNS, kind: { $case: "toolRun", toolRun: { tool: "", microsPerRun: String(CREDIT) } } },
    ],
  });
  await call(entitlements, entitlements.publishPlan, {
    plan: entitlementsV1.Plan.fromPartial({
      planId: "team",
      name: "Team",
      allotments: [
        { unit: U.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [B.BUCKET_AI, B.BUCKET_COMPUTE, B.BUCKET_PLATFORM] },
        { unit: U.UNIT_TOOL_RUNS, amountMicros: String(10_000 * CREDIT), buckets: [B.BUCKET_TOOL_RUNS] },
      ],
      thresholds: { bannerPercents: [50], emailPercents: [50] },
      rateTableId: "team-rates",
    }),
    actor: "test",
    reason: "seed",
  });
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId, name: "Team Co", planId: "team", seats: 5, adminEmails: ["admin@example.com"],
  }));
}
