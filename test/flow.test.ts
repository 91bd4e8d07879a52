import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { authorizeRequest, CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "acme");
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("Authorize → Charge over gRPC and Postgres", () => {
  it("places a hold priced from the rate, charges it and shows the balance drop", async () => {
    const { ledger } = platform.clients;
    const before = await call(ledger, ledger.getBalance, { accountId: "acme" });
    expect(before.pools).toHaveLength(1);
    expect(before.pools[0]).toMatchObject({ balanceMicros: String(100 * CREDIT), grantedMicros: String(100 * CREDIT) });

    const hold = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-1", 1));
    expect(hold).toMatchObject({ allowed: true, amountMicros: String(5 * CREDIT), availableMicros: String(95 * CREDIT) });
    expect(hold.holdId).not.toBe("");

    const charge = await call(ledger, ledger.charge, {
      accountId: "acme",
      holdId: hold.holdId,
      usage: replies("gpt-4o", 1),
      final: true,
      idempotencyKey: "charge-1",
      attribution: undefined,
      context: undefined,
      occurredAt: undefined, workKind: 0,
    });
    expect(charge).toMatchObject({ chargedMicros: String(5 * CREDIT), uncollectedMicros: "0", balanceMicros: String(95 * CREDIT), proceed: true });

    const after = await call(ledger, ledger.getBalance, { accountId: "acme" });
    const credits = after.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS);
    expect(credits).toMatchObject({ balanceMicros: String(95 * CREDIT), heldMicros: "0", usedMicros: String(5 * CREDIT) });

    const held = await call(ledger, ledger.getHold, { holdId: hold.holdId });
    expect(held.hold?.status).toBe(ledgerV1.HoldStatus.HOLD_STATUS_CHARGED);

    const entries = await call(ledger, ledger.listEntries, { accountId: "acme", holdId: hold.holdId, page: undefined, kind: 0, attribution: {}, recordedFrom: undefined, recordedBefore: undefined });
    expect(entries.entries).toHaveLength(1);
    const lines = entries.entries[0]!.lines;
    expect(lines.reduce((sum, line) => sum + BigInt(line.amountMicros), 0n)).toBe(0n);
    expect(entries.entries[0]!.attribution).toMatchObject({ agentId: "agent-1", conversationId: "conv-1", model: "gpt-4o" });
  });

  it("denies with INSUFFICIENT_CREDITS as a normal response when the balance is short", async () => {
    const { ledger } = platform.clients;
    const denied = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-big", 100));
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe(ledgerV1.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS);
    expect(denied.holdId).toBe("");
  });

  it("rejects a negative amount with INVALID_ARGUMENT naming the field, and writes nothing", async () => {
    const { ledger } = platform.clients;
    const before = await call(ledger, ledger.listEntries, { accountId: "acme", holdId: "", page: undefined, kind: 0, attribution: {}, recordedFrom: undefined, recordedBefore: undefined });
    const error = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-negative", -1)).catch((e: unknown) => e);
    const details = errorDetails(error);
    expect(details.code).toBe(3);
    expect(details.fieldViolations.map((v) => v.field)).toEqual(["estimate.model_reply.replies"]);
    const after = await call(ledger, ledger.listEntries, { accountId: "acme", holdId: "", page: undefined, kind: 0, attribution: {}, recordedFrom: undefined, recordedBefore: undefined });
    expect(after.entries.length).toBe(before.entries.length);
  });

  it("returns the same hold for a replayed idempotency key and refuses the key for a different request", async () => {
    const { ledger } = platform.clients;
    const first = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-replay", 2));
    const again = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-replay", 2));
    expect(again.holdId).toBe(first.holdId);
    expect(again.availableMicros).toBe(first.availableMicros);
    const balance = await call(ledger, ledger.getBalance, { accountId: "acme" });
    expect(balance.units[0]?.heldMicros).toBe(String(10 * CREDIT));

    const reused = await call(ledger, ledger.authorize, authorizeRequest("acme", "auth-replay", 3)).catch((e: unknown) => e);
    expect(errorDetails(reused)).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });
    await call(ledger, ledger.release, { accountId: "acme", holdId: first.holdId, idempotencyKey: "release-replay" });
  });

  it("writes a threshold event when usage crosses 50 % and notifications shows the banner", async () => {
    const { ledger, notifications } = platform.clients;
    // 95 credits left of 100; 10 replies × 5 = 50 credits → 55 % used.
    const charge = await call(ledger, ledger.charge, {
      accountId: "acme",
      holdId: "",
      usage: replies("gpt-4o", 10),
      final: true,
      idempotencyKey: "charge-direct",
      attribution: undefined,
      context: undefined,
      occurredAt: undefined, workKind: 0,
    });
    expect(charge.balanceMicros).toBe(String(45 * CREDIT));
    const banners = await eventually(async () => {
      const response = await call(notifications, notifications.listBanners, { accountId: "acme", includeDismissed: false });
      return response.banners.some((b) => b.thresholdPercent === 50) ? response.banners : undefined;
    }, 5_000, "the 50 % banner");
    expect(banners.filter((b) => b.rule.startsWith("usage_")).map((b) => b.thresholdPercent).sort()).toEqual([20, 50]);
    expect(banners.every((b) => b.kind === 1)).toBe(true);
  });
});
