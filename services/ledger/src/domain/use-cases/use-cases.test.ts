import { FailedPreconditionError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import type { RateTable } from "@tollgate/rating";
import { describe, expect, it } from "vitest";
import type { AccountView } from "../account-view.js";
import { MemoryLedgerStore } from "../memory-store.js";
import { adjust } from "./adjust.js";
import { authorize } from "./authorize.js";
import { charge } from "./charge.js";
import { expire } from "./expire.js";
import { extendHold } from "./extend-hold.js";
import { grant } from "./grant.js";
import { meter } from "./meter.js";
import { release } from "./release.js";
import { reverse } from "./reverse.js";
import { rollOver } from "./roll-over.js";
import { startWork } from "./start-work.js";
import type { LedgerDeps } from "./run.js";

const CREDIT = 1_000_000n;

const table: RateTable = {
  tableId: "rates", version: 3n, effectiveFrom: new Date("2026-01-01T00:00:00Z"),
  rates: [
    { bucket: "ai", unit: "credits", kind: "model_reply", model: "gpt", microsPerReply: CREDIT },
    { bucket: "compute", unit: "credits", kind: "active_minute", microsPerMinute: 60n * CREDIT },
  ],
};

function view(fields: Partial<AccountView> = {}): AccountView {
  return {
    accountId: "acme", status: "active", planId: "team", planVersion: 1n, cycleAnchor: new Date("2026-11-01T00:00:00Z"), rateTableId: "rates",
    drawdownOrder: ["add_on", "bonus"], thresholdPercents: [50, 100],
    units: [{ unit: "credits", allotmentMicros: 10n * CREDIT, negativeLimitMicros: 2n * CREDIT, lowCreditLimitMicros: 0n }],
    billingMode: "credits", seats: 1, deploymentMode: "cloud",
    eligibility: [],
    signupGrants: [], ...fields,
  };
}

function ledger(account = view()) {
  let now = new Date("2026-11-20T12:00:00Z");
  const store = new MemoryLedgerStore();
  const deps: LedgerDeps = {
    store,
    accounts: { get: async (id) => (id === account.accountId ? account : Promise.reject(new NotFoundError("account", id))) },
    rates: { inEffect: async () => table },
    now: () => now,
  };
  return { deps, store, account, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const reply = { kind: "model_reply" as const, model: "gpt", replies: 1n };
const context = { runLocation: "cloud", inferenceSource: "managed", computeSource: "hosted" } as const;

describe("use cases over the in-memory store", () => {
  it("authorize → charge → balance: the cycle opens lazily, the reply is priced and paid from its hold", async () => {
    const { deps, store } = ledger();
    const hold = await authorize(deps, { accountId: "acme", estimate: { ...reply, replies: 2n }, attribution: {}, idempotencyKey: "a1", ttlMs: 0, context });
    expect(hold).toMatchObject({ allowed: true, amountMicros: 2n * CREDIT, availableMicros: 8n * CREDIT, rateTableVersion: 3n });
    const charged = await charge(deps, { accountId: "acme", holdId: hold.holdId, usage: reply, final: true, idempotencyKey: "c1", attribution: {}, context, traceparent: "", traceId: "" });
    expect(charged).toMatchObject({ chargedMicros: CREDIT, releasedMicros: CREDIT, balanceMicros: 9n * CREDIT, proceed: true });
    const entries = await store.entries("acme");
    expect(entries.map((e) => e.kind)).toEqual(["grant", "charge"]);
    expect(entries[1]!.attribution).toEqual({ model: "gpt" });
  });

  it("replays a charge and refuses its key with another request", async () => {
    const { deps } = ledger();
    const request = { accountId: "acme", holdId: null, usage: reply, final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" };
    const first = await charge(deps, request);
    expect(await charge(deps, request)).toEqual({ ...first, replayed: true });
    await expect(charge(deps, { ...request, usage: { ...reply, replies: 2n } })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it("turns refusals into domain errors naming the field or the reason", async () => {
    const { deps } = ledger();
    await expect(grant(deps, { accountId: "acme", poolKind: "bonus", unit: "credits", amountMicros: 0n, priority: 0, reason: "r", actor: "a", idempotencyKey: "g", traceId: "" }))
      .rejects.toMatchObject({ constructor: InvalidArgumentError, field: "amount_micros" });
    await expect(release(deps, { accountId: "acme", holdId: "nope", idempotencyKey: "r" })).rejects.toMatchObject({ constructor: NotFoundError, reason: "HOLD_NOT_FOUND" });
    const hold = await authorize(deps, { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "a", ttlMs: 0, context });
    await release(deps, { accountId: "acme", holdId: hold.holdId!, idempotencyKey: "r1" });
    await expect(charge(deps, { accountId: "acme", holdId: hold.holdId, usage: reply, final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" }))
      .rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "HOLD_CLOSED" });
  });

  it("grants, adjusts, sweeps and rolls over", async () => {
    const { deps, store, advance } = ledger();
    const bonus = await grant(deps, { accountId: "acme", poolKind: "bonus", unit: "credits", amountMicros: 5n * CREDIT, expiresAt: new Date("2026-11-20T13:00:00Z"), priority: 0, reason: "promo", actor: "ops", idempotencyKey: "g", traceId: "" });
    expect(bonus.balanceMicros).toBe(15n * CREDIT);
    expect((await adjust(deps, { accountId: "acme", poolId: bonus.poolId, amountMicros: -CREDIT, reason: "fix", actor: "ops", idempotencyKey: "j", traceId: "" })).balanceMicros).toBe(14n * CREDIT);
    advance(3_600_000);
    expect(await expire(deps, "acme", "pools")).toEqual({ expired: 1 });
    expect((await store.outbox("acme")).map((e) => e.kind)).toEqual(["pool_expired"]);
    advance(15 * 86_400_000);
    expect(await rollOver(deps, "acme")).toEqual({ rolled: true, cycleStartMs: new Date("2026-12-01T00:00:00Z").getTime() });
  });

  it("starts a run and meters it until the negative limit stops it", async () => {
    const { deps, store, advance } = ledger();
    const account = await deps.accounts.get("acme");
    const start = { type: "startWork" as const, kind: "run" as const, accountId: "acme", workId: "run-1", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "s", requestHash: "s" };
    expect(await startWork(deps, account, start)).toEqual({ allowed: true, reason: null, availableMicros: 10n * CREDIT });
    expect(await startWork(deps, account, start)).toEqual({ allowed: true, reason: null, availableMicros: 10n * CREDIT, replayed: true });
    const started = (await store.account("acme"))!.work.get("run-1")!;
    expect((await store.account("acme"))!.idempotency.get("s")?.operation).toBe("start_run");
    advance(13 * 60_000);
    const tick = await meter(deps, account, { accountId: "acme", workId: "run-1", fromMs: started.chargedUntilMs, toMs: started.chargedUntilMs + 13 * 60_000, amountMicros: 13n * 60n * CREDIT, bucket: "compute", rateTableVersion: 3n, nextState: null, replicas: null, traceparent: "", traceId: "" });
    expect(tick).toMatchObject({ stale: false, state: "stopped", charge: { chargedMicros: 12n * CREDIT, proceed: false } });
    expect((await store.outbox("acme")).map((e) => e.kind)).toEqual(["threshold_crossed", "threshold_crossed", "work_stopped"]);
  });

  it("denies a suspended account before anything else, and records the denial under the key", async () => {
    const { deps, store } = ledger(view({ status: "suspended" }));
    const request = { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "a", ttlMs: 0, context };
    expect(await authorize(deps, request)).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED" });
    expect((await store.account("acme"))!.idempotency.has("a")).toBe(true);
  });

  it("extends an open hold's amount and expiry, denies what does not fit, and refuses closed and expired holds", async () => {
    const { deps, store, advance } = ledger();
    const hold = await authorize(deps, { accountId: "acme", estimate: { ...reply, replies: 4n }, attribution: {}, idempotencyKey: "a", ttlMs: 1_000, context });
    const extended = await extendHold(deps, { accountId: "acme", holdId: hold.holdId!, estimate: { ...reply, replies: 3n }, ttlMs: 60_000, idempotencyKey: "x1" });
    expect(extended).toMatchObject({ allowed: true, amountMicros: 7n * CREDIT, availableMicros: 3n * CREDIT });
    expect((await store.account("acme"))!.units.get("credits")!.heldMicros).toBe(7n * CREDIT);
    // Only balance − held may be reserved: 4 more do not fit in 3.
    const denied = await extendHold(deps, { accountId: "acme", holdId: hold.holdId!, estimate: { ...reply, replies: 4n }, ttlMs: 0, idempotencyKey: "x2" });
    expect(denied).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS", amountMicros: 7n * CREDIT, availableMicros: 3n * CREDIT });
    // The first extension moved the expiry: still open after the original ttl.
    advance(2_000);
    const charged = await charge(deps, { accountId: "acme", holdId: hold.holdId, usage: { ...reply, replies: 6n }, final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" });
    expect(charged).toMatchObject({ chargedMicros: 6n * CREDIT, releasedMicros: CREDIT });
    await expect(extendHold(deps, { accountId: "acme", holdId: hold.holdId!, estimate: null, ttlMs: 1_000, idempotencyKey: "x3" }))
      .rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "HOLD_CLOSED" });
    const short = await authorize(deps, { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "b", ttlMs: 1_000, context });
    advance(1_001);
    await expect(extendHold(deps, { accountId: "acme", holdId: short.holdId!, estimate: null, ttlMs: 1_000, idempotencyKey: "x4" }))
      .rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "HOLD_EXPIRED" });
    await expect(extendHold(deps, { accountId: "acme", holdId: short.holdId!, estimate: null, ttlMs: 0, idempotencyKey: "x5" }))
      .rejects.toMatchObject({ constructor: InvalidArgumentError, field: "ttl_ms" });
  });

  it("reverses a charge into the pools it drew from, once, and refuses a pool that has closed", async () => {
    const { deps, store, advance } = ledger();
    await grant(deps, { accountId: "acme", poolKind: "bonus", unit: "credits", amountMicros: 5n * CREDIT, priority: 0, reason: "promo", actor: "ops", idempotencyKey: "g", traceId: "" });
    // 12 credits: monthly 10 first, then bonus 2.
    const charged = await charge(deps, { accountId: "acme", holdId: null, usage: { ...reply, replies: 12n }, final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" });
    expect(charged.balanceMicros).toBe(3n * CREDIT);
    const request = { accountId: "acme", entryId: charged.entryId, reason: "model outage", actor: "support@acme", idempotencyKey: "r", traceId: "" };
    const reversed = await reverse(deps, request);
    expect(reversed).toMatchObject({ returnedMicros: 12n * CREDIT, balanceMicros: 15n * CREDIT });
    expect(await reverse(deps, request)).toEqual({ ...reversed, replayed: true });
    await expect(reverse(deps, { ...request, idempotencyKey: "r2" })).rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "ALREADY_REVERSED" });
    const entry = (await store.entries("acme")).find((e) => e.entryId === reversed.entryId)!;
    expect(entry).toMatchObject({ kind: "reverse", reversesEntryId: charged.entryId, amountMicros: -12n * CREDIT, reason: "model outage" });
    expect(entry.lines.map((l) => l.amountMicros).sort()).toEqual([-12n * CREDIT, 2n * CREDIT, 10n * CREDIT].sort());
    await expect(reverse(deps, { ...request, entryId: 999n, idempotencyKey: "r3" })).rejects.toMatchObject({ constructor: NotFoundError });
    await expect(reverse(deps, { ...request, reason: "", idempotencyKey: "r4" })).rejects.toMatchObject({ constructor: InvalidArgumentError, field: "reason" });
    // A charge drawn from last cycle's monthly pool cannot go back into it.
    const old = await charge(deps, { accountId: "acme", holdId: null, usage: reply, final: true, idempotencyKey: "c2", attribution: {}, context, traceparent: "", traceId: "" });
    advance(15 * 86_400_000);
    await rollOver(deps, "acme");
    await expect(reverse(deps, { ...request, entryId: old.entryId, idempotencyKey: "r5" })).rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "POOL_CLOSED" });
  });
});
