import { status } from "@grpc/grpc-js";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
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
    const usage = await call(ledger, ledger.getUsage, { accountId: "late", window: ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY, splitBy: "workspace_id" });
    const byDay = usage.points.map((p) => [p.start!.toISOString().slice(0, 10), p.key, p.amountMicros]);
    expect(byDay).toEqual([
      [new Date(Date.now() - 3 * DAY).toISOString().slice(0, 10), "ws-late", String(10 * CREDIT)],
      [new Date().toISOString().slice(0, 10), "ws-now", String(5 * CREDIT)],
    ]);
    // The last 24 hours hold only the charge made now.
    const day = await call(ledger, ledger.getUsage, { accountId: "late", window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "" });
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
    // The same key with another moment is another request.
    const moved = await call(ledger, ledger.charge, { ...request, occurredAt: new Date(occurredAt.getTime() - 1_000) }).catch((e: unknown) => e);
    expect((moved as { code: number }).code).toBe(status.ALREADY_EXISTS);
  });

  it("refuses a moment in the future or older than idempotency keys are kept, naming occurred_at", async () => {
    for (const [daysAgo, words] of [[-1, "future"], [8, "idempotency keys are kept (168 hours"]] as const) {
      const error = await charge(`bad-${daysAgo}`, 1, daysAgo, "ws").catch((e: unknown) => e);
      expect((error as { code: number }).code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetails(error).fieldViolations[0]).toMatchObject({ field: "occurred_at", description: expect.stringContaining(words) });
    }
  });
});
