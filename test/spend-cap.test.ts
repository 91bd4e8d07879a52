import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
const USD = 1_000_000;

const tokens = (input: number, output: number): pricingV1.Usage => ({
  kind: { $case: "modelTokens", modelTokens: { model: "own-sonnet", inputTokens: String(input), outputTokens: String(output), cacheReadTokens: "0", cacheWriteTokens: "0" } },
});

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  const { pricing, entitlements } = platform.clients;
  await call(pricing, pricing.publishRateTable, {
    tableId: "byom", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
    rates: [{
      bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS,
      kind: { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({
        model: "own-sonnet", inputMicrosPerMillion: String(3 * USD), outputMicrosPerMillion: String(15 * USD),
        inputUsdMicrosPerMillion: String(3 * USD), outputUsdMicrosPerMillion: String(15 * USD),
      }) },
    }],
  });
  await call(entitlements, entitlements.publishPlan, {
    actor: "test", reason: "",
    plan: entitlementsV1.Plan.fromPartial({ planId: "byom", name: "BYOM", rateTableId: "byom", thresholds: { bannerPercents: [50, 100], emailPercents: [] } }),
  });
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId: "byom-co", name: "BYOM Co", planId: "byom", seats: 40, billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: String(1 * USD),
  }));
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("BYOM spend caps", () => {
  it("tracks provider cost in USD against the monthly cap and blocks new requests once it is reached", async () => {
    const { ledger, notifications } = platform.clients;
    const balance = await call(ledger, ledger.getBalance, { accountId: "byom-co" });
    expect(balance.pools).toMatchObject([{ kind: entitlementsV1.PoolKind.POOL_KIND_SPEND_CAP, unit: commonV1.Unit.UNIT_USD, balanceMicros: String(USD) }]);

    // 100k input + 20k output tokens = $0.30 + $0.30 = $0.60
    const charged = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "byom-co", usage: tokens(100_000, 20_000), final: true, idempotencyKey: "c1" }));
    expect(charged).toMatchObject({ chargedMicros: String(0.6 * USD), balanceMicros: String(0.4 * USD) });
    await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "byom-co", usage: tokens(100_000, 20_000), final: true, idempotencyKey: "c2" }));

    const blocked = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "byom-co", estimate: tokens(1_000, 100), idempotencyKey: "a1", ttlMs: "60000" }));
    expect(blocked).toMatchObject({ allowed: false, reason: ledgerV1.DenialReason.DENIAL_REASON_SPEND_CAP_REACHED });

    const banners = await eventually(async () => {
      const response = await call(notifications, notifications.listBanners, { accountId: "byom-co", includeDismissed: false });
      return response.banners.some((b) => b.thresholdPercent === 100) ? response.banners : undefined;
    }, 5_000, "the spend cap banner");
    expect(banners.find((b) => b.thresholdPercent === 100)).toMatchObject({ unit: commonV1.Unit.UNIT_USD, kind: 2 });
  });

  it("follows a spend cap raised and lowered back within the cycle: the cap in force is the lowered one", async () => {
    const { ledger, entitlements } = platform.clients;
    const id = "byom-back";
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: id, name: "BYOM Back", planId: "byom", seats: 40, billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: String(1 * USD),
    }));
    // Opens the cycle under the $1 cap: $0.60 spent.
    await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: id, usage: tokens(100_000, 20_000), final: true, idempotencyKey: "b1" }));
    const setCap = (usd: number, key: string) =>
      call(entitlements, entitlements.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({ accountId: id, spendCapMicros: String(usd * USD), reason: "support test", idempotencyKey: key }));
    // Whether $3 of spend may start; a hold it makes is released.
    let probes = 0;
    const mayStartThreeDollars = async () => {
      const hold = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: id, estimate: tokens(1_000_000, 0), idempotencyKey: `b-probe-${++probes}`, ttlMs: "60000" }));
      if (hold.allowed) await call(ledger, ledger.release, { accountId: id, holdId: hold.holdId, idempotencyKey: `b-release-${probes}` });
      return hold;
    };
    await setCap(100, "cap-up");
    await eventually(async () => ((await mayStartThreeDollars()).allowed ? true : undefined), 10_000, "the raised cap reaching the ledger");
    await setCap(1, "cap-down"); // $0.40 left
    const refused = await eventually(async () => {
      const hold = await mayStartThreeDollars();
      return hold.allowed ? undefined : hold;
    }, 10_000, "the lowered cap reaching the ledger");
    expect(refused.reason).toBe(ledgerV1.DenialReason.DENIAL_REASON_SPEND_CAP_REACHED);
  });
});
