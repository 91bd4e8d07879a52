import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createClient, ROLES } from "@tollgate/grpc-kit";
import { startLedgerService, type LedgerService } from "@tollgate/ledger";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { authorizeRequest, CREDIT, seedStarter } from "./fixtures.js";
import { meterStream } from "./meter-stream.js";
import { startPlatform, type Platform } from "./platform.js";
import { scrape, value } from "./prometheus.js";

let db: TestDatabase;
let platform: Platform;
/** A second ledger on the same database that keeps a single account in memory. */
let small: LedgerService;
let smallClient: ledgerV1.LedgerServiceClient;

/** Another ledger on the platform's database, its caches empty; `accountCacheAccounts` as given. */
function startLedger(accountCacheAccounts?: number): Promise<LedgerService> {
  return startLedgerService({
    databaseUrl: db.url, port: 0, poolMax: 4, entitlementsAddress: platform.entitlements.address, pricingAddress: platform.pricing.address,
    sweepIntervalMs: 0, meterIntervalMs: 0, reconcileIntervalMs: 0, ...(accountCacheAccounts ? { accountCacheAccounts } : {}), auth: platform.auth, ...platform.serviceCredentials("ledger"),
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "cached");
  for (const accountId of ["lru-1", "lru-2"]) {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId, name: accountId, planId: "starter", seats: 1, adminEmails: ["admin@example.com"],
    }));
  }
  small = await startLedger(1);
  smallClient = createClient(ledgerV1.LedgerServiceClient, small.address, platform.serviceCredentials(platform.principal, ROLES));
});

afterAll(async () => {
  smallClient?.close();
  await small?.stop();
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

  it("prices with a table's current version when the feed brought only a later one, dated ahead, before the table's first use", async () => {
    const { pricing, entitlements } = platform.clients;
    const publish = (tableId: string, credits: number, effectiveFrom?: Date) =>
      call(pricing, pricing.publishRateTable, {
        tableId, effectiveFrom, actor: "test", reason: "price", idempotencyKey: "",
        rates: [{ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(credits * CREDIT) } } }],
      });
    await publish("later", 3, new Date(Date.now() - 60_000));
    // A version of another table after it: a ledger that starts now first uses that table.
    await publish("default", 5);
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({ planId: "later-plan", name: "Later", rateTableId: "later", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [commonV1.Bucket.BUCKET_AI] }] }),
      actor: "test", reason: "seed",
    });
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "later-1", name: "later-1", planId: "later-plan", seats: 1, adminEmails: ["admin@example.com"] }));
    const fresh = await startLedger();
    const client = createClient(ledgerV1.LedgerServiceClient, fresh.address, platform.serviceCredentials(platform.principal, ROLES));
    try {
      await call(client, client.authorize, authorizeRequest("cached", "later-a1", 1)); // fills "default" and starts the feed
      await publish("later", 7, new Date(Date.now() + 3_600_000));
      // The feed brings a publication within milliseconds: before "later" is first used here, the fresh ledger has heard of the version ahead.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const hold = await call(client, client.authorize, authorizeRequest("later-1", "later-a2", 1));
      expect([hold.allowed, hold.amountMicros, hold.rateTableVersion]).toEqual([true, String(3 * CREDIT), "1"]);
    } finally {
      client.close();
      await fresh.stop();
    }
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

describe("a ledger's bound on the accounts it keeps in memory", () => {
  const cacheStats = async () => {
    const samples = await scrape(small.metrics.url);
    return {
      accounts: value(samples, "tollgate_ledger_account_cache_accounts"),
      fills: value(samples, "tollgate_ledger_account_cache_fills_total"),
      evictions: value(samples, "tollgate_ledger_account_cache_evictions_total"),
    };
  };

  it("drops the least recently used account past the bound, and fetches it again with what changed meanwhile", async () => {
    const support = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, platform.serviceCredentials("desk", ["support"]));
    try {
      expect((await call(smallClient, smallClient.authorize, authorizeRequest("lru-1", "lru-a1", 1))).allowed).toBe(true);
      expect((await call(smallClient, smallClient.authorize, authorizeRequest("lru-2", "lru-a2", 1))).allowed).toBe(true);
      expect(await cacheStats()).toEqual({ accounts: 1, fills: 2, evictions: 1 });

      // lru-1 is no longer in memory; its suspension reaches the ledger when it is used again.
      await call(support, support.setAccountControls, {
        accountId: "lru-1", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED, limits: [], reason: "unpaid invoice", idempotencyKey: "",
      });
      const denied = await call(smallClient, smallClient.authorize, authorizeRequest("lru-1", "lru-a3", 1));
      expect(denied.reason).toBe(ledgerV1.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED);
      expect(await cacheStats()).toEqual({ accounts: 1, fills: 3, evictions: 2 });

      // The account in memory is used without another fetch.
      expect((await call(smallClient, smallClient.authorize, authorizeRequest("lru-1", "lru-a4", 1))).allowed).toBe(false);
      expect((await cacheStats()).fills).toBe(3);
    } finally {
      support.close();
    }
  });

  it("stops a Meter stream when its account is suspended, though another account's use dropped it from memory", async () => {
    const stream = meterStream(smallClient);
    const support = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, platform.serviceCredentials("desk", ["support"]));
    try {
      stream.open("lru-2", "lru-run", 2);
      expect((await stream.next()).kind?.$case).toBe("opened");
      // lru-1 takes the only place: lru-2 is dropped while its stream is open.
      await call(smallClient, smallClient.authorize, authorizeRequest("lru-1", "lru-a5", 1));
      const { evictions } = await cacheStats();
      await call(support, support.setAccountControls, {
        accountId: "lru-2", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED, limits: [], reason: "unpaid invoice", idempotencyKey: "",
      });
      const stop = await stream.next(2_000);
      expect(stop.kind).toMatchObject({ $case: "stop", stop: { reason: ledgerV1.MeterStopReason.METER_STOP_REASON_ACCOUNT_SUSPENDED } });
      expect((await cacheStats()).evictions).toBeGreaterThan(evictions!);
    } finally {
      support.close();
      stream.cancel();
    }
  });
});
