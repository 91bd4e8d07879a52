import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let sql: pg.Client;
const L = ledgerV1;
const E = entitlementsV1;
const USD = 1_000_000;

const reply = (model: string, replies = 1): pricingV1.Usage => ({ kind: { $case: "modelReply", modelReply: { model, replies: String(replies) } } });
const tokens = (input: number, output: number): pricingV1.Usage => ({
  kind: { $case: "modelTokens", modelTokens: { model: "own-model", inputTokens: String(input), outputTokens: String(output), cacheReadTokens: "0", cacheWriteTokens: "0" } },
});
const gpu = (): pricingV1.Usage => ({ kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } });

async function plan(planId: string, fields: Partial<entitlementsV1.Plan> = {}) {
  await call(platform.clients.entitlements, platform.clients.entitlements.publishPlan, {
    actor: "test", reason: "", plan: E.Plan.fromPartial({ planId, name: planId, rateTableId: "seed-rules", ...fields }),
  });
}

const account = (accountId: string, planId: string, fields: Partial<entitlementsV1.CreateAccountRequest> = {}) =>
  call(platform.clients.entitlements, platform.clients.entitlements.createAccount, E.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1, ...fields }));

const credits = (n: number) => ({ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(n * CREDIT), buckets: [] });

/** Puts a run's or deployment's last charge `seconds` before now: that much uncharged time has passed, without waiting for it. */
const age = (workId: string, seconds: number) =>
  sql.query(`update ledger.metered_work set charged_until = date_trunc('milliseconds', clock_timestamp()) - make_interval(secs => $2) where work_id = $1`, [workId, seconds]);

beforeAll(async () => {
  db = await createTestDatabase();
  // No metering ticks: the tests below move time themselves.
  platform = await startPlatform(db.url, { meterIntervalMs: 0 });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const rate = (bucket: commonV1.Bucket, kind: pricingV1.Rate["kind"], unit = commonV1.Unit.UNIT_CREDITS): pricingV1.Rate => ({ bucket, unit, kind });
  await call(platform.clients.pricing, platform.clients.pricing.publishRateTable, {
    tableId: "seed-rules", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
    rates: [
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelReply", modelReply: { model: "five", microsPerReply: String(5 * CREDIT) } }),
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({
        model: "own-model", inputMicrosPerMillion: String(3 * CREDIT), outputMicrosPerMillion: String(15 * CREDIT),
        inputUsdMicrosPerMillion: String(3 * USD), outputUsdMicrosPerMillion: String(15 * USD),
      }) }),
      rate(commonV1.Bucket.BUCKET_TOOL_RUNS, { $case: "toolRun", toolRun: { tool: "search", microsPerRun: String(CREDIT) } }, commonV1.Unit.UNIT_TOOL_RUNS),
      rate(commonV1.Bucket.BUCKET_PLATFORM, { $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } }), // 1 credit per active second
      rate(commonV1.Bucket.BUCKET_COMPUTE, { $case: "gpuHour", gpuHour: { gpuType: "A100", microsPerReplicaHour: String(3600 * CREDIT) } }), // 1 credit per replica-second
    ],
  });
  await call(platform.clients.pricing, platform.clients.pricing.publishRateTable, {
    tableId: "per-minute", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
    rates: [rate(commonV1.Bucket.BUCKET_PLATFORM, { $case: "activeMinute", activeMinute: { microsPerMinute: String(CREDIT) } })], // 16,666.67 µcr a second
  });
  await plan("per-minute", { rateTableId: "per-minute", allotments: [credits(100)] });
  await plan("bonus-only"); // no allotment, no grant, no limit for any unit
  await plan("small", { allotments: [credits(2)] });
  await plan("guarded", { allotments: [credits(10)], limits: [entitlementsV1.UsageLimits.fromPartial({ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: "0", lowCreditLimitMicros: String(20 * CREDIT) })] });
  await plan("timed", { allotments: [credits(1000)] });
  await plan("byom");
  await plan("cloud-only", {
    allotments: [credits(1000)],
    eligibility: [E.EligibilityRule.fromPartial({
      runLocations: [E.RunLocation.RUN_LOCATION_CLOUD], allowed: true, reason: "cloud runs only", buckets: [commonV1.Bucket.BUCKET_AI, commonV1.Bucket.BUCKET_PLATFORM], metered: true,
    })],
  });
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await db?.drop();
});

describe("a unit the plan does not name", () => {
  it("gets a balance on its first grant: bonus credits on a plan with no allotment can be granted, held and charged", async () => {
    await account("bonus-co", "bonus-only");
    const { ledger } = platform.clients;
    const granted = await call(ledger, ledger.grant, L.GrantRequest.fromPartial({
      accountId: "bonus-co", poolKind: E.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(20 * CREDIT), reason: "referral", actor: "test", idempotencyKey: "g1",
    }));
    expect(granted.balanceMicros).toBe(String(20 * CREDIT));
    const held = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "bonus-co", estimate: reply("five"), idempotencyKey: "a1", ttlMs: "60000" }));
    expect(held).toMatchObject({ allowed: true, amountMicros: String(5 * CREDIT) });
    const charged = await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "bonus-co", holdId: held.holdId, usage: reply("five"), final: true, idempotencyKey: "c1" }));
    expect(charged).toMatchObject({ chargedMicros: String(5 * CREDIT), balanceMicros: String(15 * CREDIT), proceed: true });
    // Another unit, granted for the first time, works the same way.
    const runs = await call(ledger, ledger.grant, L.GrantRequest.fromPartial({
      accountId: "bonus-co", poolKind: E.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_TOOL_RUNS, amountMicros: String(100 * CREDIT), reason: "promo", actor: "test", idempotencyKey: "g2",
    }));
    expect(runs.balanceMicros).toBe(String(100 * CREDIT));
    const balance = await call(ledger, ledger.getBalance, { accountId: "bonus-co" });
    expect(balance.units.map((u) => [u.unit, u.balanceMicros]).sort()).toEqual([[commonV1.Unit.UNIT_CREDITS, String(15 * CREDIT)], [commonV1.Unit.UNIT_TOOL_RUNS, String(100 * CREDIT)]]);
  });

  it("denies usage in a unit with no balance at all clearly, never NOT_FOUND", async () => {
    await account("empty-co", "bonus-only");
    const { ledger } = platform.clients;
    const denied = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "empty-co", estimate: reply("five"), idempotencyKey: "a1", ttlMs: "60000" }));
    expect(denied).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS, availableMicros: "0", holdId: "" });
    expect(denied.message).toBe("the request needs 5 credits; 0 credits available (balance less open holds), and it may not go below 0 credits");
    // Usage reported after the fact is recorded and nothing of it collected.
    const charged = await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "empty-co", usage: reply("five"), final: true, idempotencyKey: "c1" }));
    expect(charged).toMatchObject({ chargedMicros: "0", uncollectedMicros: String(5 * CREDIT), balanceMicros: "0", proceed: false });
  });
});

describe("the upgrade prompt of a free tier", () => {
  it("is at 75 % used when the plan names none: the plan says so, the ledger crosses it and the prompt shows", async () => {
    await plan("free-unprompted", { freeTier: true, allotments: [credits(100)], thresholds: E.NotificationThresholds.fromPartial({ bannerPercents: [50] }) });
    const { entitlements, ledger, notifications } = platform.clients;
    const published = await call(entitlements, entitlements.getPlan, { planId: "free-unprompted", version: "0" });
    expect(published.plan?.thresholds?.upgradePromptPercent).toBe(75);
    await account("free-unprompted", "free-unprompted");
    // The upgrade button shows on a free tier before any usage (seed 002: "always visible for free tier users").
    expect(await call(notifications, notifications.listBanners, { accountId: "free-unprompted", includeDismissed: false })).toMatchObject({ showUpgradePrompt: true, showReferralPrompt: false });
    await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "free-unprompted", usage: reply("five", 16), final: true, idempotencyKey: "free-80" })); // 80 of 100
    const banners = await eventually(async () => {
      const listed = await call(notifications, notifications.listBanners, { accountId: "free-unprompted", includeDismissed: false });
      return listed.banners.some((b) => b.rule === "upgrade_prompt") ? listed.banners : undefined;
    }, 5_000, "the upgrade prompt");
    expect(banners.find((b) => b.rule === "upgrade_prompt")?.thresholdPercent).toBe(75);
  });

  it("shows on a paid plan once the cycle's usage reaches the plan's percent, and the referral invite at its own", async () => {
    await plan("paid-prompted", { allotments: [credits(100)], thresholds: E.NotificationThresholds.fromPartial({ bannerPercents: [50], upgradePromptPercent: 75, referralPromptPercent: 50 }) });
    const { ledger, notifications } = platform.clients;
    await account("paid-prompted", "paid-prompted");
    const prompts = async () => {
      const { showUpgradePrompt, showReferralPrompt } = await call(notifications, notifications.listBanners, { accountId: "paid-prompted", includeDismissed: false });
      return { showUpgradePrompt, showReferralPrompt };
    };
    expect(await prompts()).toEqual({ showUpgradePrompt: false, showReferralPrompt: false });
    await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "paid-prompted", usage: reply("five", 12), final: true, idempotencyKey: "paid-60" })); // 60 of 100
    expect(await prompts()).toEqual({ showUpgradePrompt: false, showReferralPrompt: true });
    await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "paid-prompted", usage: reply("five", 4), final: true, idempotencyKey: "paid-80" })); // 80 of 100
    expect(await prompts()).toEqual({ showUpgradePrompt: true, showReferralPrompt: true });
  });
});

describe("denials explain themselves", () => {
  it("INSUFFICIENT_CREDITS gives the amount needed, what is available, the limit and the unit", async () => {
    await account("short-co", "small");
    const { ledger } = platform.clients;
    const denied = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "short-co", estimate: reply("five"), idempotencyKey: "a1", ttlMs: "60000" }));
    expect(denied).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS, availableMicros: String(2 * CREDIT) });
    expect(denied.message).toBe("the request needs 5 credits; 2 credits available (balance less open holds), and it may not go below 0 credits");
  });

  it("SPEND_CAP_REACHED names the cap in USD", async () => {
    await account("cap-co", "byom", { billingMode: E.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: String(0.5 * USD) });
    const { ledger } = platform.clients;
    // 100k input + 20k output tokens at $3/$15 per million: $0.60.
    const denied = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "cap-co", estimate: tokens(100_000, 20_000), idempotencyKey: "a1", ttlMs: "60000" }));
    expect(denied).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_SPEND_CAP_REACHED });
    expect(denied.message).toBe("the request needs 0.6 USD; 0.5 USD is left of the 0.5 USD spend cap for this cycle");
  });

  it("BELOW_LOW_CREDIT_LIMIT gives the low-credit limit and what is available", async () => {
    await account("low-co", "guarded");
    const { ledger } = platform.clients;
    const refused = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "low-co", deploymentId: "low-gpu", hardware: gpu(), replicas: 1, idempotencyKey: "d1" }));
    expect(refused).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_BELOW_LOW_CREDIT_LIMIT });
    expect(refused.message).toBe("the deployment needs at least 20 credits available (the low-credit limit is 20 credits); 10 credits available");
  });

  it("CheckEligibility answers the same kind of reason as Authorize, with the same words", async () => {
    await account("cloud-co", "cloud-only");
    const { ledger, entitlements } = platform.clients;
    const context = { runLocation: E.RunLocation.RUN_LOCATION_LOCAL, inferenceSource: E.InferenceSource.INFERENCE_SOURCE_MANAGED, computeSource: E.ComputeSource.COMPUTE_SOURCE_HOSTED };
    const authorized = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "cloud-co", estimate: reply("five"), idempotencyKey: "a1", ttlMs: "60000", context }));
    const checked = await call(entitlements, entitlements.checkEligibility, { accountId: "cloud-co", context });
    expect(authorized).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_NOT_ELIGIBLE });
    expect(checked).toMatchObject({ allowed: false, denialReason: commonV1.DenialReason.DENIAL_REASON_NOT_ELIGIBLE, message: authorized.message });
    expect(commonV1.denialReasonToJSON(checked.denialReason)).toBe(L.denialReasonToJSON(authorized.reason));
    expect(checked.reason).toBe(checked.message); // the deprecated field keeps its words
  });
});

describe("one meaning per field", () => {
  it("PauseRun answers what that call charged, EndRun the run's total", async () => {
    await account("timer-co", "timed");
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "timer-co", runId: "timed-run", idempotencyKey: "s1" }));
    await age("timed-run", 3);
    const paused = await call(ledger, ledger.pauseRun, { accountId: "timer-co", runId: "timed-run", idempotencyKey: "p1" });
    expect(paused).toEqual({ chargedThisCallMicros: String(3 * CREDIT), chargedMicros: String(3 * CREDIT) });
    await call(ledger, ledger.resumeRun, { accountId: "timer-co", runId: "timed-run", idempotencyKey: "r1" });
    await age("timed-run", 2);
    const pausedAgain = await call(ledger, ledger.pauseRun, { accountId: "timer-co", runId: "timed-run", idempotencyKey: "p2" });
    expect(pausedAgain.chargedThisCallMicros).toBe(String(2 * CREDIT)); // this call's, not the run's 5
    const ended = await call(ledger, ledger.endRun, { accountId: "timer-co", runId: "timed-run", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e1" });
    expect(ended).toEqual({ totalChargedMicros: String(5 * CREDIT), chargedMicros: String(5 * CREDIT), activeSeconds: "5" });
  });

  it("Undeploy answers the deployment's total", async () => {
    const { ledger } = platform.clients;
    await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "timer-co", deploymentId: "timed-gpu", hardware: gpu(), replicas: 2, idempotencyKey: "d1" }));
    await age("timed-gpu", 4);
    await call(ledger, ledger.scale, { accountId: "timer-co", deploymentId: "timed-gpu", replicas: 1, idempotencyKey: "sc1" });
    await age("timed-gpu", 3);
    const undeployed = await call(ledger, ledger.undeploy, { accountId: "timer-co", deploymentId: "timed-gpu", idempotencyKey: "u1" });
    expect(undeployed).toEqual({ totalChargedMicros: String(11 * CREDIT), chargedMicros: String(11 * CREDIT) }); // 4 s × 2 + 3 s × 1
  });
});

describe("a charge rounds once", () => {
  it("charges a run's total as one rounded amount, however its time was split", async () => {
    await account("minute-co", "per-minute");
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "minute-co", runId: "two-seconds", idempotencyKey: "s1" }));
    await age("two-seconds", 1);
    const first = await call(ledger, ledger.pauseRun, { accountId: "minute-co", runId: "two-seconds", idempotencyKey: "p1" });
    expect(first.chargedThisCallMicros).toBe("16667"); // 1 s: 16,666.67 rounded
    await call(ledger, ledger.resumeRun, { accountId: "minute-co", runId: "two-seconds", idempotencyKey: "r1" });
    await age("two-seconds", 1);
    const ended = await call(ledger, ledger.endRun, { accountId: "minute-co", runId: "two-seconds", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e1" });
    expect(ended).toMatchObject({ totalChargedMicros: "33333", activeSeconds: "2" }); // 2 s priced once, not 2 × 16,667
  });

  it("rounds a token-priced charge once, half-up on its total: 2 input and 2 output tokens at 0.2 µcr each cost 1 µcr, not 0 + 0", async () => {
    const { pricing, ledger } = platform.clients;
    // The enterprise catalogue's llama-3.1-8b-instruct: 200,000 µcr per million tokens, input and output (0.2 µcr a token).
    await call(pricing, pricing.publishRateTable, {
      tableId: "sub-micro", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
      rates: [{ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({
        model: "llama-3.1-8b-instruct", inputMicrosPerMillion: "200000", outputMicrosPerMillion: "200000",
      }) } }],
    });
    await plan("sub-micro", { rateTableId: "sub-micro", allotments: [credits(10)] });
    await account("sub-micro", "sub-micro");
    const usage: pricingV1.Usage = { kind: { $case: "modelTokens", modelTokens: { model: "llama-3.1-8b-instruct", inputTokens: "2", outputTokens: "2", cacheReadTokens: "0", cacheWriteTokens: "0" } } };
    const charged = await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "sub-micro", usage, final: true, idempotencyKey: "sub-micro-1" }));
    expect(charged.chargedMicros).toBe("1"); // 0.8 µcr, rounded once when posted
  });
});

describe("a plan's metered buckets", () => {
  it("charges nothing for work in a bucket the plan does not meter: a plan metering only AI credits runs an agent (platform time) unmetered", async () => {
    await plan("ai-only", { allotments: [credits(100)], meteredBuckets: [commonV1.Bucket.BUCKET_AI] });
    await account("ai-only-co", "ai-only");
    const { ledger, entitlements } = platform.clients;
    const eligibility = await call(entitlements, entitlements.checkEligibility, { accountId: "ai-only-co", context: undefined });
    expect(eligibility).toMatchObject({ allowed: true, metered: true, buckets: [commonV1.Bucket.BUCKET_AI] });
    const started = await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "ai-only-co", runId: "platform-run", idempotencyKey: "s1" }));
    expect(started).toMatchObject({ allowed: true, metered: false });
    await age("platform-run", 3);
    const ended = await call(ledger, ledger.endRun, { accountId: "ai-only-co", runId: "platform-run", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e1" });
    expect(ended.totalChargedMicros).toBe("0");
    // Its AI usage is charged as before.
    const replied = await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId: "ai-only-co", usage: reply("five"), final: true, idempotencyKey: "c1" }));
    expect(replied.chargedMicros).toBe(String(5 * CREDIT));
  });
});

describe("the event stream from now", () => {
  it("GetLatestEventSequence gives the sequence to stream after so only new events arrive", async () => {
    const { ledger } = platform.clients;
    // Some history first: a deployment event.
    await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "timer-co", deploymentId: "history", hardware: gpu(), replicas: 1, idempotencyKey: "h1", endpoint: "https://old.example" }));
    await call(ledger, ledger.undeploy, { accountId: "timer-co", deploymentId: "history", idempotencyKey: "h2" });
    const { sequence } = await call(ledger, ledger.getLatestEventSequence, {});
    expect(BigInt(sequence)).toBeGreaterThan(0n);

    await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "timer-co", deploymentId: "fresh", hardware: gpu(), replicas: 1, idempotencyKey: "f1", endpoint: "https://new.example" }));
    const controller = new AbortController();
    const stream = ledger.streamEvents({ afterSequence: sequence });
    controller.signal.addEventListener("abort", () => stream.cancel());
    const first = await new Promise<ledgerV1.LedgerEvent>((resolve, reject) => {
      stream.on("data", (response: ledgerV1.StreamEventsResponse) => response.event && resolve(response.event)); // none: a heartbeat
      stream.on("error", reject);
    });
    controller.abort();
    expect(BigInt(first.sequence)).toBeGreaterThan(BigInt(sequence));
    expect(first.kind).toMatchObject({ $case: "deploymentChanged", deploymentChanged: { deploymentId: "fresh", state: "deployed" } });
  });
});
