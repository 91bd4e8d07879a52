import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
const S = commonV1.Surface;

const spend = (key: string, count: number, attribution: Partial<commonV1.Attribution>) =>
  call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId: "usage", usage: replies("gpt-4o", count), final: true, idempotencyKey: key, attribution: commonV1.Attribution.fromPartial(attribution),
  }));

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "usage");
  await spend("u1", 4, { workspaceId: "ws-a", userId: "ann", surface: S.SURFACE_WEB }); // 20
  await spend("u2", 2, { workspaceId: "ws-b", userId: "bob", surface: S.SURFACE_CLI }); // 10
  await spend("u3", 1, { workspaceId: "ws-a", userId: "bob", surface: S.SURFACE_CLI }); // 5
  await spend("u4", 1, { workspaceId: "ws-c", userId: "cid", surface: S.SURFACE_WEB }); // 5
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("usage queries", () => {
  it("splits the last 24 hours by surface, hour by hour", async () => {
    const { ledger } = platform.clients;
    const usage = await call(ledger, ledger.getUsage, { accountId: "usage", window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "surface", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    const bySurface = Object.fromEntries(usage.points.map((p) => [p.key, [p.amountMicros, p.requests]]));
    expect(bySurface).toEqual({ web: [String(25 * CREDIT), "2"], cli: [String(15 * CREDIT), "2"] });
    expect(new Set(usage.points.map((p) => p.start!.getTime())).size).toBe(1);
    expect(usage.points[0]!.start!.getUTCMinutes()).toBe(0);
  });

  it("ranks workspaces by credits with request counts and shares, page by page", async () => {
    const { ledger } = platform.clients;
    const first = await call(ledger, ledger.getTopUsage, { accountId: "usage", dimension: "workspace_id", since: undefined, page: { pageSize: 2, pageToken: "" }, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(first.totalMicros).toBe(String(40 * CREDIT));
    expect(first.rows.map((r) => [r.key, r.amountMicros, r.requests, r.shareBasisPoints])).toEqual([
      ["ws-a", String(25 * CREDIT), "2", 6250],
      ["ws-b", String(10 * CREDIT), "1", 2500],
    ]);
    const second = await call(ledger, ledger.getTopUsage, { accountId: "usage", dimension: "workspace_id", since: undefined, page: { pageSize: 2, pageToken: first.nextPageToken }, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(second.rows.map((r) => r.key)).toEqual(["ws-c"]);
    expect(second.nextPageToken).toBe("");
  });

  it("pages through the ranking the first page read: usage charged or reversed meanwhile moves no row onto another page", async () => {
    const { ledger, entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "ranked", name: "Ranked", planId: "starter", seats: 1 }));
    const charge = (key: string, count: number, workspaceId: string) =>
      call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "ranked", usage: replies("gpt-4o", count), final: true, idempotencyKey: key, attribution: { workspaceId } }));
    await charge("r1", 3, "ws-a"); // 15
    const b = await charge("r2", 2, "ws-b"); // 10
    await charge("r3", 1, "ws-c"); // 5
    const top = (pageToken: string) => call(ledger, ledger.getTopUsage, { accountId: "ranked", dimension: "workspace_id", since: undefined, page: { pageSize: 1, pageToken }, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    const first = await top("");
    // Between pages: a new workspace outspends them all, and ws-b's charge is reversed.
    await charge("r4", 8, "ws-d");
    await call(ledger, ledger.reverseCharge, ledgerV1.ReverseChargeRequest.fromPartial({ accountId: "ranked", entryId: b.entryId, reason: "refund", actor: "support", idempotencyKey: "rev-b" }));
    const pages = [first];
    while (pages.at(-1)!.nextPageToken) pages.push(await top(pages.at(-1)!.nextPageToken));
    expect(pages.map((p) => [p.rows.map((r) => [r.key, r.amountMicros]), p.totalMicros])).toEqual([
      [[["ws-a", String(15 * CREDIT)]], String(30 * CREDIT)],
      [[["ws-b", String(10 * CREDIT)]], String(30 * CREDIT)],
      [[["ws-c", String(5 * CREDIT)]], String(30 * CREDIT)],
    ]);
    // A first page reads the usage as it is now.
    expect((await top("")).rows.map((r) => r.key)).toEqual(["ws-d"]);
  });

  it("lists the entries of one workspace and user, and refuses an unknown attribution key", async () => {
    const { ledger } = platform.clients;
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "usage", attribution: { workspace_id: "ws-a", user_id: "bob" } }));
    expect(entries.entries.map((e) => e.amountMicros)).toEqual([String(5 * CREDIT)]);
    const bad = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "usage", attribution: { salary: "x" } })).catch((e: unknown) => e);
    expect(errorDetails(bad).fieldViolations[0]?.field).toBe("attribution[salary]");
  });

  it("answers sums of charges past int64 saturated at its largest value, never INTERNAL", async () => {
    const { ledger, entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "huge", name: "Huge", planId: "starter", seats: 1 }));
    await call(ledger, ledger.getBalance, { accountId: "huge" }); // opens its cycle
    // Charges each within their bound (at most 10^15) add up past int64 after about ten thousand of them: rows of
    // 5 × 10^18 stand for them here, two of one workspace and one of another.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      for (const workspace of ["ws-big", "ws-big", "ws-small"]) {
        await sql.query(`insert into ledger.entries (account_id, kind, unit, bucket, amount_micros, attribution) values ('huge', 'charge', 'credits', 'ai', 5000000000000000000, $1)`, [{ workspace_id: workspace }]);
      }
    } finally {
      await sql.end();
    }
    const MAX = String(2n ** 63n - 1n);
    const usage = await call(ledger, ledger.getUsage, { accountId: "huge", window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "workspace_id", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    const FIVE = "5000000000000000000";
    expect(usage.points.map((p) => [p.key, p.amountMicros, p.requests])).toEqual([["ws-big", MAX, "2"], ["ws-small", FIVE, "1"]]);
    const top = await call(ledger, ledger.getTopUsage, { accountId: "huge", dimension: "workspace_id", since: undefined, page: { pageSize: 10, pageToken: "" }, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    // Shares of what was charged (10^19 of 1.5 × 10^19), not of the saturated figures (which would give 100 % and 54 %).
    expect([top.totalMicros, top.rows.map((r) => [r.key, r.amountMicros, r.shareBasisPoints])]).toEqual([MAX, [["ws-big", MAX, 6_667], ["ws-small", FIVE, 3_333]]]);
    const breakdown = await call(ledger, ledger.getUsageBreakdown, { accountId: "huge", dimension: "workspace_id", splitBy: "bucket", since: undefined });
    expect(breakdown.rows.map((r) => [r.key, r.split, r.amountMicros])).toEqual([["ws-big", "ai", MAX], ["ws-small", "ai", FIVE]]);
    const balance = await call(ledger, ledger.getBalance, { accountId: "huge" });
    expect(balance.units.map((u) => u.usedMicros)).toEqual([MAX]);
  });

  it("refuses an unknown dimension naming the field", async () => {
    const { ledger } = platform.clients;
    const error = await call(ledger, ledger.getTopUsage, { accountId: "usage", dimension: "salary", since: undefined, page: undefined, unit: commonV1.Unit.UNIT_UNSPECIFIED }).catch((e: unknown) => e);
    expect(errorDetails(error).fieldViolations[0]?.field).toBe("dimension");
  });
});

describe("usage in one unit at a time", () => {
  it("sums the account's own unit unless another is asked for: tool runs are not counted as credits", async () => {
    const { ledger, pricing, entitlements } = platform.clients;
    await call(pricing, pricing.publishRateTable, {
      tableId: "mixed", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "seed", idempotencyKey: "",
      rates: [
        { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } } },
        { bucket: commonV1.Bucket.BUCKET_TOOL_RUNS, unit: commonV1.Unit.UNIT_TOOL_RUNS, kind: { $case: "toolRun", toolRun: { tool: "", microsPerRun: String(CREDIT) } } },
      ],
    });
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({
        planId: "mixed", name: "Mixed", rateTableId: "mixed",
        allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [] }, { unit: commonV1.Unit.UNIT_TOOL_RUNS, amountMicros: String(10 * CREDIT), buckets: [] }],
      }),
      actor: "test", reason: "seed",
    });
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "mixed", name: "mixed", planId: "mixed", seats: 1 }));
    const charge = (key: string, usage: ledgerV1.ChargeRequest["usage"], workspaceId: string) =>
      call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "mixed", usage, final: true, idempotencyKey: key, attribution: commonV1.Attribution.fromPartial({ workspaceId }) }));
    await charge("m1", replies("gpt-4o", 1), "ws-chat");
    await charge("m2", { kind: { $case: "toolRun", toolRun: { tool: "search", runs: "3" } } }, "ws-tools");

    const credits = await call(ledger, ledger.getTopUsage, ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "mixed", dimension: "workspace_id" }));
    expect(credits.totalMicros).toBe(String(5 * CREDIT));
    expect(credits.rows.map((r) => [r.key, r.amountMicros])).toEqual([["ws-chat", String(5 * CREDIT)]]);
    const runs = await call(ledger, ledger.getTopUsage, ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "mixed", dimension: "workspace_id", unit: commonV1.Unit.UNIT_TOOL_RUNS }));
    expect(runs.rows.map((r) => [r.key, r.amountMicros, r.shareBasisPoints])).toEqual([["ws-tools", String(3 * CREDIT), 10_000]]);
    const chart = await call(ledger, ledger.getUsage, ledgerV1.GetUsageRequest.fromPartial({ accountId: "mixed", window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "workspace_id" }));
    expect(chart.points.map((p) => [p.key, p.amountMicros])).toEqual([["ws-chat", String(5 * CREDIT)]]);
    const unknown = await call(ledger, ledger.getTopUsage, ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "nobody", dimension: "workspace_id" })).catch((e: unknown) => e);
    expect(errorDetails(unknown).code).toBe(5);
  });

  it("names the 25 values with the most usage in a chart and sums the rest under (other)", async () => {
    const { ledger, entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "many", name: "many", planId: "starter", seats: 1 }));
    await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "many", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(500 * CREDIT), reason: "room", idempotencyKey: "many-grant",
    }));
    for (let i = 0; i < 27; i++) {
      const userId = `u${String(i).padStart(2, "0")}`;
      // u00 spends most; the rest one reply each, so the two named last (u25, u26) are the smallest.
      await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "many", usage: replies("gpt-4o", i === 0 ? 3 : 1), final: true, idempotencyKey: `many-${i}`, attribution: commonV1.Attribution.fromPartial({ userId }),
      }));
    }
    const chart = await call(ledger, ledger.getUsage, ledgerV1.GetUsageRequest.fromPartial({ accountId: "many", window: ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY, splitBy: "user_id" }));
    const byKey = Object.fromEntries(chart.points.map((p) => [p.key, [p.amountMicros, p.requests]]));
    expect(Object.keys(byKey)).toHaveLength(26);
    expect(byKey.u00).toEqual([String(15 * CREDIT), "1"]);
    expect(byKey.u24).toEqual([String(5 * CREDIT), "1"]);
    expect(byKey["(other)"]).toEqual([String(10 * CREDIT), "2"]);
    expect(byKey.u25).toBeUndefined();
  });

  it("names at most 200 keys in a breakdown and sums the rest under (other)", async () => {
    const { ledger, entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "crowd", name: "crowd", planId: "starter", seats: 1 }));
    await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "crowd", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(2_000 * CREDIT), reason: "room", idempotencyKey: "crowd-grant",
    }));
    // 203 conversations: c000 the largest, the rest one reply each.
    for (let from = 0; from < 203; from += 29) {
      await Promise.all(Array.from({ length: Math.min(29, 203 - from) }, (_, j) => from + j).map((i) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "crowd", usage: replies("gpt-4o", i === 0 ? 2 : 1), final: true, idempotencyKey: `crowd-${i}`,
        attribution: commonV1.Attribution.fromPartial({ conversationId: `c${String(i).padStart(3, "0")}` }),
      }))));
    }
    const { rows } = await call(ledger, ledger.getUsageBreakdown, { accountId: "crowd", dimension: "conversation_id", splitBy: "bucket", since: undefined });
    expect(rows).toHaveLength(201);
    expect(rows.find((r) => r.key === "c000")?.amountMicros).toBe(String(10 * CREDIT));
    expect(rows.find((r) => r.key === "(other)")).toMatchObject({ amountMicros: String(15 * CREDIT), requests: "3" });
  });
});

describe("adjustments", () => {
  it("posts a compensating entry with its reason and actor, and refuses one below the negative limit", async () => {
    const { ledger } = platform.clients;
    const balance = await call(ledger, ledger.getBalance, { accountId: "usage" });
    const pool = balance.pools.find((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_MONTHLY)!;
    const credited = await call(ledger, ledger.adjust, {
      accountId: "usage", poolId: pool.poolId, amountMicros: String(5 * CREDIT), reason: "refund a failed reply", actor: "support@example.com", idempotencyKey: "adj-1",
    });
    expect(credited.balanceMicros).toBe(String(65 * CREDIT));
    const entries = await call(ledger, ledger.listEntries, { accountId: "usage", holdId: "", page: undefined, kind: ledgerV1.EntryKind.ENTRY_KIND_ADJUST, attribution: {}, recordedFrom: undefined, recordedBefore: undefined });
    // The actor is the caller's authenticated principal, not the name in the request.
    expect(entries.entries[0]).toMatchObject({ amountMicros: String(5 * CREDIT), reason: "refund a failed reply", actor: platform.principal });

    const tooMuch = await call(ledger, ledger.adjust, {
      accountId: "usage", poolId: pool.poolId, amountMicros: String(-100 * CREDIT), reason: "typo", actor: "support@example.com", idempotencyKey: "adj-2",
    }).catch((e: unknown) => e);
    expect(errorDetails(tooMuch)).toMatchObject({ code: 9, reason: "ADJUSTMENT_BELOW_LIMIT" });

    const noReason = await call(ledger, ledger.adjust, {
      accountId: "usage", poolId: pool.poolId, amountMicros: "1", reason: "", actor: "support@example.com", idempotencyKey: "adj-3",
    }).catch((e: unknown) => e);
    expect(errorDetails(noReason).fieldViolations[0]?.field).toBe("reason");
  });
});
