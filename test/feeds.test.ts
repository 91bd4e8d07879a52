import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientReadableStream } from "@grpc/grpc-js";
import pg from "pg";
import { call, createClient } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { CREDIT, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "feed-a");
  await seedStarter(platform, "feed-b");
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

/** A follower of one watch stream, as the ledger is one: the latest cursor it has seen of each key. */
function follow<M>(open: () => ClientReadableStream<M>, read: (message: M) => [key: string, cursor: bigint] | undefined) {
  const seen = new Map<string, bigint>();
  const stream = open();
  stream.on("data", (message: M) => {
    const item = read(message);
    if (item) seen.set(item[0], item[1]);
  });
  stream.on("error", () => undefined);
  return { seen, cancel: () => stream.cancel() };
}

/**
 * Two writes to one log, the first stalled after it took its cursor: an
 * uncommitted row under its idempotency key holds it where it records its
 * answer, as a slow commit would. Without turns the second commits first,
 * the follower reads past the first's cursor, and never brings the first.
 */
async function stalledWrite<M>(options: {
  follower: ReturnType<typeof follow<M>>;
  idempotency: { table: string; scope: string; key: string };
  slow: () => Promise<[key: string, cursor: bigint]>;
  quick: () => Promise<[key: string, cursor: bigint]>;
  quickKey: string;
}): Promise<void> {
  const { seen } = options.follower;
  const blocker = new pg.Client({ connectionString: db.url });
  await blocker.connect();
  try {
    await eventually(async () => (seen.has(options.quickKey) ? true : undefined), 2_000, "the follower caught up");
    const before = seen.get(options.quickKey)!;
    await blocker.query("begin");
    await blocker.query(
      `insert into ${options.idempotency.table} (scope, idempotency_key, operation, request_hash, response) values ($1, $2, 'x', 'x', 'null')`,
      [options.idempotency.scope, options.idempotency.key],
    );
    const slow = options.slow();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const quick = options.quick();
    // Without turns, the quick write commits and reaches the follower while the slow one is open.
    await eventually(async () => ((seen.get(options.quickKey) ?? 0n) > before ? true : undefined), 1_000, "the quick write").catch(() => undefined);
    await blocker.query("rollback");
    const [[slowKey, slowCursor], [quickKey, quickCursor]] = await Promise.all([slow, quick]);
    expect(slowCursor).toBeLessThan(quickCursor);
    await eventually(async () => (seen.get(slowKey) === slowCursor && seen.get(quickKey) === quickCursor ? true : undefined), 2_000, "both writes in the feed");
  } finally {
    await blocker.end();
    options.follower.cancel();
  }
}

const follower = () => platform.serviceCredentials("ledger", ["service"]);

describe("the watch streams' logs", () => {
  it("WatchAccounts brings a change that took its revision before another's and committed after it", async () => {
    const { entitlements } = platform.clients;
    const watcher = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, follower());
    const seats = async (accountId: string, idempotencyKey: string): Promise<[string, bigint]> => {
      const { account } = await call(entitlements, entitlements.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({
        accountId, seats: 2, actor: "support@example.com", reason: "seats", idempotencyKey,
      }));
      return [accountId, BigInt(account!.revision)];
    };
    try {
      await stalledWrite({
        follower: follow(() => watcher.watchAccounts({ afterRevision: "0" }), (m: entitlementsV1.WatchAccountsResponse) => m.account && [m.account.accountId, BigInt(m.account.revision)]),
        idempotency: { table: "entitlements.idempotency_keys", scope: "account:feed-a", key: "slow" },
        slow: () => seats("feed-a", "slow"),
        quick: () => seats("feed-b", "quick"),
        quickKey: "feed-b",
      });
    } finally {
      watcher.close();
    }
  });

  it("WatchPlans brings a version that was numbered before another's and committed after it", async () => {
    const { entitlements } = platform.clients;
    const watcher = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, follower());
    const publish = async (planId: string, idempotencyKey: string): Promise<[string, bigint]> => {
      const { plan } = await call(entitlements, entitlements.publishPlan, {
        plan: entitlementsV1.Plan.fromPartial({ planId, name: planId, rateTableId: "default" }), actor: "test", reason: "feed", idempotencyKey,
      });
      return [planId, BigInt(plan!.version)];
    };
    try {
      await publish("quick-plan", "");
      await stalledWrite({
        follower: follow(() => watcher.watchPlans({ afterVersion: "0" }), (m: entitlementsV1.WatchPlansResponse) => m.plan && [m.plan.planId, BigInt(m.plan.version)]),
        idempotency: { table: "entitlements.idempotency_keys", scope: "plan:slow-plan", key: "slow" },
        slow: () => publish("slow-plan", "slow"),
        quick: () => publish("quick-plan", "quick"),
        quickKey: "quick-plan",
      });
    } finally {
      watcher.close();
    }
  });

  it("WatchRateTables brings a version that was sequenced before another table's and committed after it", async () => {
    const { pricing } = platform.clients;
    const watcher = createClient(pricingV1.PricingServiceClient, platform.pricing.address, follower());
    const publish = async (tableId: string, idempotencyKey: string): Promise<[string, bigint]> => {
      const { table } = await call(pricing, pricing.publishRateTable, {
        tableId, effectiveFrom: new Date(Date.now() - 1_000), actor: "test", reason: "feed", idempotencyKey,
        rates: [{ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(CREDIT) } } }],
      });
      return [tableId, BigInt(table!.sequence)];
    };
    try {
      await publish("quick-table", "");
      await stalledWrite({
        follower: follow(() => watcher.watchRateTables({ afterVersion: "0", afterSequence: "0" }), (m: pricingV1.WatchRateTablesResponse) => m.table && [m.table.tableId, BigInt(m.table.sequence)]),
        idempotency: { table: "pricing.idempotency_keys", scope: "table:slow-table", key: "slow" },
        slow: () => publish("slow-table", "slow"),
        quick: () => publish("quick-table", "quick"),
        quickKey: "quick-table",
      });
    } finally {
      watcher.close();
    }
  });
});
