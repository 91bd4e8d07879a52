/**
 * ExtendHold and ReverseCharge through the real ledger, with authentication
 * on: a hold that outgrows its estimate, and a charge returned to the pools
 * it drew from, once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createClient, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase } from "@tollgate/testing";
import { CREDIT, replies } from "./fixtures.js";
import { startPlatform } from "./platform.js";
import { seedTeam } from "./team-fixtures.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let platform: Awaited<ReturnType<typeof startPlatform>>;
const ACCOUNT = "rev-co";
const ledger = () => platform.clients.ledger;
const available = async () => (await call(ledger(), ledger().getBalance, { accountId: ACCOUNT })).units.find((b) => b.unit === 1)!;
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, "the call is refused").toBeDefined();
  const details = errorDetails(error);
  return { ...details, field: details.fieldViolations[0]?.field };
};

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedTeam(platform, ACCOUNT);
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("LedgerService.ExtendHold", () => {
  it("reserves more and keeps the hold open longer; what does not fit is denied and changes nothing; a released hold cannot grow", async () => {
    // gpt-4o replies cost 5 credits; the account has 100.
    const hold = await call(ledger(), ledger().authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: ACCOUNT, estimate: replies("gpt-4o", 2), idempotencyKey: "x-auth", ttlMs: "60000" }));
    const request = ledgerV1.ExtendHoldRequest.fromPartial({ accountId: ACCOUNT, holdId: hold.holdId, estimate: replies("gpt-4o", 4), ttlMs: "600000", idempotencyKey: "x-1" });
    const extended = await call(ledger(), ledger().extendHold, request);
    expect(extended).toMatchObject({ allowed: true, amountMicros: String(30 * CREDIT), availableMicros: String(70 * CREDIT) });
    expect(extended.expiresAt!.getTime()).toBeGreaterThan(hold.expiresAt!.getTime() + 500_000);
    expect(await call(ledger(), ledger().extendHold, request), "a replay answers the same").toEqual(extended);
    const stored = (await call(ledger(), ledger().getHold, { holdId: hold.holdId })).hold!;
    expect(stored).toMatchObject({ amountMicros: String(30 * CREDIT), status: ledgerV1.HoldStatus.HOLD_STATUS_OPEN });
    expect((await available()).heldMicros).toBe(String(30 * CREDIT));

    const denied = await call(ledger(), ledger().extendHold, ledgerV1.ExtendHoldRequest.fromPartial({ accountId: ACCOUNT, holdId: hold.holdId, estimate: replies("gpt-4o", 15), idempotencyKey: "x-2" }));
    expect(denied).toMatchObject({ allowed: false, reason: ledgerV1.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS, amountMicros: String(30 * CREDIT) });
    expect((await available()).heldMicros).toBe(String(30 * CREDIT));

    await call(ledger(), ledger().release, { accountId: ACCOUNT, holdId: hold.holdId, idempotencyKey: "x-release" });
    const closed = await refusal(call(ledger(), ledger().extendHold, ledgerV1.ExtendHoldRequest.fromPartial({ accountId: ACCOUNT, holdId: hold.holdId, ttlMs: "1000", idempotencyKey: "x-3" })));
    expect(closed).toMatchObject({ code: 9, reason: "HOLD_CLOSED" });
    const nothing = await refusal(call(ledger(), ledger().extendHold, ledgerV1.ExtendHoldRequest.fromPartial({ accountId: ACCOUNT, holdId: hold.holdId, idempotencyKey: "x-4" })));
    expect(nothing).toMatchObject({ code: 3, field: "ttl_ms" });
  });
});

describe("a hold named in upper case", () => {
  it("is the same hold to ExtendHold, GetHold and Charge (a UUID reads in either case), and the final charge closes it", async () => {
    const hold = await call(ledger(), ledger().authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: ACCOUNT, estimate: replies("gpt-4o", 1), idempotencyKey: "u-auth", ttlMs: "60000" }));
    const upper = hold.holdId.toUpperCase();
    expect(upper).not.toBe(hold.holdId);
    expect(await call(ledger(), ledger().extendHold, ledgerV1.ExtendHoldRequest.fromPartial({ accountId: ACCOUNT, holdId: upper, ttlMs: "120000", idempotencyKey: "u-extend" }))).toMatchObject({ allowed: true });
    expect((await call(ledger(), ledger().getHold, { holdId: upper })).hold).toMatchObject({ holdId: hold.holdId });
    const charged = await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({ accountId: ACCOUNT, holdId: upper, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "u-charge" }));
    expect(charged).toMatchObject({ chargedMicros: String(5 * CREDIT) });
    expect((await call(ledger(), ledger().getHold, { holdId: hold.holdId })).hold?.status).toBe(ledgerV1.HoldStatus.HOLD_STATUS_CHARGED);
  });
});

describe("LedgerService.ReverseCharge", () => {
  it("returns a charge to its pools as one REVERSE entry, once, shown on both entries and on the receipt", async () => {
    const before = await available();
    const charged = await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({ accountId: ACCOUNT, usage: replies("gpt-4o", 3), final: true, idempotencyKey: "r-charge" }));
    expect(charged.chargedMicros).toBe(String(15 * CREDIT));
    const request = { accountId: ACCOUNT, entryId: charged.entryId, reason: "model outage: answers were empty", actor: "", idempotencyKey: "r-reverse" };
    const reversed = await call(ledger(), ledger().reverseCharge, request);
    expect(reversed).toMatchObject({ returnedMicros: String(15 * CREDIT), balanceMicros: before.balanceMicros });
    expect(await call(ledger(), ledger().reverseCharge, request), "a replay answers the same").toEqual(reversed);
    expect(await refusal(call(ledger(), ledger().reverseCharge, { ...request, idempotencyKey: "r-again" }))).toMatchObject({ code: 9, reason: "ALREADY_REVERSED" });
    expect((await available()).balanceMicros).toBe(before.balanceMicros);

    const entries = (await call(ledger(), ledger().listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: ACCOUNT }))).entries;
    const reverse = entries.find((e) => e.entryId === reversed.entryId)!;
    expect(reverse).toMatchObject({ kind: ledgerV1.EntryKind.ENTRY_KIND_REVERSE, reversesEntryId: charged.entryId, amountMicros: String(-15 * CREDIT), reason: request.reason });
    expect(reverse.lines.reduce((sum, l) => sum + BigInt(l.amountMicros), 0n)).toBe(0n);
    expect(entries.find((e) => e.entryId === charged.entryId)).toMatchObject({ reversedByEntryId: reversed.entryId });
    const receipt = (await call(ledger(), ledger().getReceipt, { entryId: charged.entryId, holdId: "" })).receipt!;
    expect(receipt.charges[0]).toMatchObject({ reversedByEntryId: reversed.entryId });
    const fromReversal = (await call(ledger(), ledger().getReceipt, { entryId: reversed.entryId, holdId: "" })).receipt!;
    expect(fromReversal.charges.map((c) => c.entryId), "a reversal's receipt is its charge's").toEqual([charged.entryId]);
    expect(fromReversal).toEqual(receipt);

    // Only a charge is reversed: another entry is refused, naming what it is; an entry that does not exist is NOT_FOUND.
    const reversal = await refusal(call(ledger(), ledger().reverseCharge, { ...request, entryId: reversed.entryId, idempotencyKey: "r-not-a-charge" }));
    expect(reversal).toMatchObject({ code: 9, reason: "NOT_A_CHARGE" });
    expect(reversal.message).toContain(`entry ${reversed.entryId} is a reversal, not a charge`);
    const grantEntry = entries.find((e) => e.kind === ledgerV1.EntryKind.ENTRY_KIND_GRANT)!;
    const grant = await refusal(call(ledger(), ledger().reverseCharge, { ...request, entryId: grantEntry.entryId, idempotencyKey: "r-a-grant" }));
    expect(grant).toMatchObject({ code: 9, reason: "NOT_A_CHARGE" });
    expect(grant.message).toContain("is a grant, not a charge");
    expect(await refusal(call(ledger(), ledger().reverseCharge, { ...request, entryId: "999999999", idempotencyKey: "r-missing" }))).toMatchObject({ code: 5 });
    expect((await available()).balanceMicros, "refusals change nothing").toBe(before.balanceMicros);
    expect(await refusal(call(ledger(), ledger().reverseCharge, { ...request, reason: "", idempotencyKey: "r-no-reason" }))).toMatchObject({ code: 3, field: "reason" });
  });

  it("takes a reversed charge out of usage: the cycle's figures, the usage chart, top usage and the breakdown", async () => {
    const account = "rev-usage";
    await seedTeam(platform, account);
    const chargeFor = async (workspace: string, count: number) =>
      call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({ accountId: account, usage: replies("gpt-4o", count), final: true, attribution: commonV1.Attribution.fromPartial({ workspaceId: workspace }), idempotencyKey: `u-${workspace}` }));
    const kept = await chargeFor("kept", 1);
    const refunded = await chargeFor("refunded", 3);
    const report = async () => {
      const balance = await call(ledger(), ledger().getBalance, { accountId: account });
      const chart = await call(ledger(), ledger().getUsage, { accountId: account, window: ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY, splitBy: "workspace_id", unit: commonV1.Unit.UNIT_CREDITS });
      const since = new Date(Date.now() - 3_600_000);
      const top = await call(ledger(), ledger().getTopUsage, ledgerV1.GetTopUsageRequest.fromPartial({ accountId: account, dimension: "workspace_id", since, unit: commonV1.Unit.UNIT_CREDITS }));
      const breakdown = await call(ledger(), ledger().getUsageBreakdown, { accountId: account, dimension: "workspace_id", splitBy: "bucket", since });
      const perKey = (rows: { key: string; amountMicros: string; requests: string }[]) => Object.fromEntries(rows.map((r) => [r.key, [Number(r.amountMicros) / CREDIT, Number(r.requests)]]));
      return {
        used: Number(balance.units.find((b) => b.unit === commonV1.Unit.UNIT_CREDITS)!.usedMicros) / CREDIT,
        events: balance.cycle!.usageEvents,
        chart: perKey(chart.points),
        top: [perKey(top.rows), Number(top.totalMicros) / CREDIT],
        breakdown: perKey(breakdown.rows),
      };
    };
    expect(await report()).toEqual({ used: 20, events: 2, chart: { kept: [5, 1], refunded: [15, 1] }, top: [{ kept: [5, 1], refunded: [15, 1] }, 20], breakdown: { kept: [5, 1], refunded: [15, 1] } });
    await call(ledger(), ledger().reverseCharge, { accountId: account, entryId: refunded.entryId, reason: "refund", actor: "", idempotencyKey: "u-reverse" });
    // All of it given back: the refunded charge is no usage any more, in any report (the balance's used already said so).
    expect(await report()).toEqual({ used: 5, events: 1, chart: { kept: [5, 1] }, top: [{ kept: [5, 1] }, 5], breakdown: { kept: [5, 1] } });
    expect(kept.chargedMicros).toBe(String(5 * CREDIT));
  });

  it("is support's: a meter credential is refused", async () => {
    const meter = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, { credentials: platform.issuer!.credential("meter-probe", ["meter"]) });
    const refused = await refusal(call(meter, meter.reverseCharge, { accountId: ACCOUNT, entryId: "1", reason: "r", actor: "", idempotencyKey: "r-meter" }));
    meter.close();
    expect(refused).toMatchObject({ code: 7, reason: "ROLE_REQUIRED" });
  });
});
