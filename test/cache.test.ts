import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { authorizeRequest, CREDIT, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "cached");
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("the ledger's in-memory plans and rates", () => {
  it("prices with a new rate within one second of its publication", async () => {
    const { ledger, pricing } = platform.clients;
    const first = await call(ledger, ledger.authorize, authorizeRequest("cached", "cache-1", 1));
    expect(first.amountMicros).toBe(String(5 * CREDIT));

    const published = await call(pricing, pricing.publishRateTable, {
      tableId: "default",
      effectiveFrom: new Date(Date.now() - 1_000),
      rates: [
        {
          bucket: commonV1.Bucket.BUCKET_AI,
          unit: commonV1.Unit.UNIT_CREDITS,
          kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(7 * CREDIT) } },
        },
      ],
      actor: "test",
      reason: "price change",
      idempotencyKey: "",
    });
    let attempt = 0;
    const repriced = await eventually(async () => {
      const hold = await call(ledger, ledger.authorize, authorizeRequest("cached", `cache-2-${attempt++}`, 1));
      await call(ledger, ledger.release, { accountId: "cached", holdId: hold.holdId, idempotencyKey: `cache-release-${attempt}` });
      return hold.amountMicros === String(7 * CREDIT) ? hold : undefined;
    }, 1_000, "the new rate in the ledger");
    expect(repriced.rateTableVersion).toBe(published.table!.version);
  });

  it("refuses a suspended account within one second of the change", async () => {
    const { ledger, entitlements } = platform.clients;
    await call(entitlements, entitlements.updateAccount, {
      accountId: "cached",
      planId: "",
      status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED,
      seats: 0,
      actor: "support@example.com",
      reason: "unpaid invoice",
      idempotencyKey: "",
      limits: [],
    });
    let attempt = 0;
    const denied = await eventually(async () => {
      const response = await call(ledger, ledger.authorize, authorizeRequest("cached", `cache-3-${attempt++}`, 1));
      return response.allowed ? undefined : response;
    }, 1_000, "the suspension in the ledger");
    expect(denied.reason).toBe(ledgerV1.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED);
  });
});
