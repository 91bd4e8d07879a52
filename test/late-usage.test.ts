import { status } from "@grpc/grpc-js";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TollgateClient, usage } from "@tollgate/client";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { meterStream } from "./meter-stream.js";
import { startPlatform, type Platform } from "./platform.js";

const DAY = 86_400_000;
let db: TestDatabase;
let platform: Platform;

/** A reply charge (5 credits each), reported `daysAgo` days late (0: now, without occurred_at; negative: in the future). */
const charge = (key: string, count: number, daysAgo: number, workspaceId: string) =>
  call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId: "late", usage: replies("gpt-4o", count), final: true, idempotencyKey: key,
    attribution: commonV1.Attribution.fromPartial({ workspaceId }),
    ...(daysAgo !== 0 ? { occurredAt: new Date(Date.now() - daysAgo * DAY) } : {}),
  }));

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "other");
  // The cycle began yesterday: three days ago is the previous cycle.
  await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId: "late", name: "late", planId: "starter", seats: 1, cycleAnchor: new Date(Date.now() - DAY),
  }));
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("late usage (Charge.occurred_at)", () => {
  it("lands in the usage window and cycle of when it happened, paid from the balance as it is now", async () => {
    const { ledger } = platform.clients;
    await charge("now", 1, 0, "ws-now");
    const late = await charge("late-3d", 2, 3, "ws-late");
    expect(late.chargedMicros).toBe(String(10 * CREDIT));
    const usage = await call(ledger, ledger.getUsage, { accountId: "late", window: ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY, splitBy: "workspace_id", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    const byDay = usage.points.map((p) => [p.start!.toISOString().slice(0, 10), p.key, p.amountMicros]);
    expect(byDay).toEqual([
      [new Date(Date.now() - 3 * DAY).toISOString().slice(0, 10), "ws-late", String(10 * CREDIT)],
      [new Date().toISOString().slice(0, 10), "ws-now", String(5 * CREDIT)],
    ]);
    // The last 24 hours hold only the charge made now.
    const day = await call(ledger, ledger.getUsage, { accountId: "late", window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(day.points.map((p) => p.amountMicros)).toEqual([String(5 * CREDIT)]);
    // Paid now (100 − 15 credits), but the cycle that began yesterday used only what happened in it.
    const balance = await call(ledger, ledger.getBalance, { accountId: "late" });
    const credits = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
    expect(credits).toMatchObject({ availableMicros: String(85 * CREDIT), usedMicros: String(5 * CREDIT) });
    expect(balance.cycle?.usageEvents).toBe(1);
  });

  it("replays the same late report (same key, same occurred_at) without charging twice", async () => {
    const { ledger } = platform.clients;
    const occurredAt = new Date(Date.now() - 2 * DAY);
    const request = ledgerV1.ChargeRequest.fromPartial({ accountId: "late", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "replayed", occurredAt });
    const first = await call(ledger, ledger.charge, request);
    const again = await call(ledger, ledger.charge, request);
    expect(again).toEqual(first);
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "late" }));
    expect(entries.entries.filter((e) => e.entryId === first.entryId)).toHaveLength(1);
    // The journal says when the usage happened, beside when it was recorded; a charge made as it happened says nothing more.
    const entry = entries.entries.find((e) => e.entryId === first.entryId)!;
    expect(entry.occurredAt).toEqual(occurredAt);
    expect(entry.createdAt!.getTime()).toBeGreaterThan(occurredAt.getTime());
    const now = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "late", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "on-time" }));
    const listed = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "late" }));
    expect(listed.entries.find((e) => e.entryId === now.entryId)!.occurredAt).toBeUndefined();
    // The same key with another moment is another request.
    const moved = await call(ledger, ledger.charge, { ...request, occurredAt: new Date(occurredAt.getTime() - 1_000) }).catch((e: unknown) => e);
    expect((moved as { code: number }).code).toBe(status.ALREADY_EXISTS);
  });

  it("a Meter stream's increments and close, and the client library's charges and meter reports, may say when their usage happened", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "late-meter", name: "late-meter", planId: "starter", seats: 1, cycleAnchor: new Date(Date.now() - DAY),
    }));
    const threeDaysAgo = new Date(Date.now() - 3 * DAY);
    const stream = meterStream(ledger, { workspaceId: "ws-stream" });
    stream.open("late-meter", "late-work", 4);
    expect((await stream.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
    stream.write({ kind: { $case: "increment", increment: { sequence: "1", usage: replies("gpt-4o", 1), occurredAt: threeDaysAgo } } });
    expect((await stream.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "1", chargedMicros: String(5 * CREDIT) } });
    stream.write({ kind: { $case: "close", close: ledgerV1.MeterClose.fromPartial({ usage: replies("gpt-4o", 1), occurredAt: threeDaysAgo }) } });
    expect((await stream.next()).kind?.$case).toBe("closed");

    const tollgate = new TollgateClient({ address: platform.ledger.address, credentials: platform.issuer!.credential("late-reporter", ["meter"]) });
    try {
      await tollgate.charge({ accountId: "late-meter", usage: usage.replies("gpt-4o", 1), attribution: { workspaceId: "ws-client" }, occurredAt: threeDaysAgo });
      const meter = await tollgate.openMeter({ accountId: "late-meter", estimate: usage.replies("gpt-4o", 2), attribution: { workspaceId: "ws-client" } });
      await meter.report(usage.replies("gpt-4o", 1), { occurredAt: threeDaysAgo });
      await meter.close(usage.replies("gpt-4o", 1), { occurredAt: threeDaysAgo });
    } finally {
      tollgate.close();
    }
    // Three days ago: the stream's 10 credits and the client's 5 + 5 + 5; nothing today.
    const week = await call(ledger, ledger.getUsage, { accountId: "late-meter", window: ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY, splitBy: "workspace_id", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(week.points.map((p) => [p.start!.toISOString().slice(0, 10), p.key, p.amountMicros])).toEqual([
      [threeDaysAgo.toISOString().slice(0, 10), "ws-client", String(15 * CREDIT)],
      [threeDaysAgo.toISOString().slice(0, 10), "ws-stream", String(10 * CREDIT)],
    ]);

    // Outside the bounds, the stream ends with INVALID_ARGUMENT naming the increment's occurred_at, and nothing is charged.
    const bad = meterStream(ledger, { workspaceId: "ws-stream" });
    bad.open("late-meter", "late-work-bad", 1);
    await bad.next();
    bad.write({ kind: { $case: "increment", increment: { sequence: "1", usage: replies("gpt-4o", 1), occurredAt: new Date(Date.now() - 8 * DAY) } } });
    const failure = await bad.finished();
    expect(failure?.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetails(failure).fieldViolations[0]).toMatchObject({ field: "increment.occurred_at", description: expect.stringContaining("no older than") });
  });

  it("keeps a large balance used by a trickle readable: its run-out is projected to 2200 at the latest (it was an INTERNAL)", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "idle-rich", name: "idle-rich", planId: "starter", seats: 1, cycleAnchor: new Date(Date.now() - 2 * DAY),
    }));
    for (let i = 0; i < 5; i++) {
      await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "idle-rich", usage: replies("gpt-4o", 1), final: true, idempotencyKey: `trickle-${i}`, occurredAt: new Date(Date.now() - 1.5 * DAY + i * 60_000),
      }));
    }
    for (const key of ["rich-1", "rich-2"]) {
      await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
        accountId: "idle-rich", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(10n ** 15n), reason: "r", idempotencyKey: key,
      }));
    }
    const balance = await call(ledger, ledger.getBalance, { accountId: "idle-rich" });
    const latest = Date.parse("2200-01-01T00:00:00Z");
    expect(balance.cycle).toMatchObject({ willRunOutBeforeCycleEnd: false, projectedDaysToEmpty: Math.floor((latest - Date.now()) / DAY) });
  });

  it("refuses a moment in the future or older than idempotency keys are kept, naming occurred_at", async () => {
    for (const [daysAgo, words] of [[-1, "future"], [8, "idempotency keys are kept (168 hours"]] as const) {
      const error = await charge(`bad-${daysAgo}`, 1, daysAgo, "ws").catch((e: unknown) => e);
      expect((error as { code: number }).code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetails(error).fieldViolations[0]).toMatchObject({ field: "occurred_at", description: expect.stringContaining(words) });
    }
  });

  it("is priced at the rate table version in effect when it happened (the first version for usage before it), not at today's", async () => {
    const { pricing, entitlements, ledger } = platform.clients;
    const perReply = (credits: number) => [{
      bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS,
      kind: { $case: "modelReply" as const, modelReply: { model: "gpt-4o", microsPerReply: String(credits * CREDIT) } },
    }];
    // v1: 5 credits a reply from 5 days ago; v2: 50 credits a reply from an hour ago.
    await call(pricing, pricing.publishRateTable, { tableId: "dated", effectiveFrom: new Date(Date.now() - 5 * DAY), rates: perReply(5), actor: "test", reason: "v1", idempotencyKey: "" });
    await call(pricing, pricing.publishRateTable, { tableId: "dated", effectiveFrom: new Date(Date.now() - 3_600_000), rates: perReply(50), actor: "test", reason: "v2", idempotencyKey: "" });
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({ planId: "dated", name: "dated", rateTableId: "dated", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(1000 * CREDIT), buckets: [] }] }),
      actor: "test", reason: "seed",
    });
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "late-dated", name: "late-dated", planId: "dated", seats: 1, cycleAnchor: new Date(Date.now() - 10 * DAY),
    }));
    const reply = (key: string, daysAgo: number) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "late-dated", usage: replies("gpt-4o", 1), final: true, idempotencyKey: key, ...(daysAgo > 0 ? { occurredAt: new Date(Date.now() - daysAgo * DAY) } : {}),
    }));
    const charged = [await reply("before-v1", 6), await reply("under-v1", 2), await reply("now", 0)];
    expect(charged.map((c) => c.chargedMicros)).toEqual([String(5 * CREDIT), String(5 * CREDIT), String(50 * CREDIT)]);
    const { entries } = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "late-dated", kind: ledgerV1.EntryKind.ENTRY_KIND_CHARGE, page: { pageSize: 10, pageToken: "" } }));
    expect(charged.map((c) => entries.find((e) => e.entryId === c.entryId)?.rateTableVersion)).toEqual(["1", "1", "2"]);
  });
});
