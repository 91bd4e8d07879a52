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
import type { Write } from "../writes.js";

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
    meteredBuckets: [],
    signupGrants: [], ...fields,
  };
}

function ledger(account = view()) {
  let now = new Date("2026-11-20T12:00:00Z");
  const store = new MemoryLedgerStore();
  // Every version published so far (by sequence); the last one is in effect.
  const published: RateTable[] = [table];
  const deps: LedgerDeps = {
    store,
    accounts: { get: async (id) => (id === account.accountId ? account : Promise.reject(new NotFoundError("account", id))) },
    rates: {
      inEffect: async () => published.at(-1)!,
      published: async (sequences) => new Map([...sequences].flatMap((s) => published.filter((t) => (t.sequence ?? t.version) === s).map((t) => [s, t] as const))),
    },
    now: () => now,
  };
  return { deps, store, account, advance: (ms: number) => (now = new Date(now.getTime() + ms)), publish: (next: RateTable) => published.push(next) };
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

  it("writes an auto-reloading pool's reload price with the pool, in the grant's own batch; a replay writes nothing", async () => {
    const { deps } = ledger(view({ addOnPrices: { credits: 10_000n } }));
    const written: Write[] = [];
    // The add-on pools written (the first batch also opens the cycle, with its monthly pool).
    const addOns = () => written.filter((w): w is Extract<Write, { type: "pool" }> => w.type === "pool" && w.pool.kind === "add_on");
    const store = deps.store;
    deps.store = { transact: (commands, decide) => store.transact(commands, (state, ids) => {
      const decided = decide(state, ids);
      written.push(...decided.writes);
      return decided;
    }) };
    const request = {
      accountId: "acme", poolKind: "add_on" as const, unit: "credits", amountMicros: 5n * CREDIT, priority: 0, reason: "bought", actor: "ops", idempotencyKey: "g-reload", traceId: "",
      reload: { belowMicros: CREDIT, toMicros: 5n * CREDIT, cooldownMs: 0 },
    };
    const first = await grant(deps, request);
    expect(addOns()).toEqual([{ type: "pool", pool: expect.objectContaining({ poolId: first.poolId, reload: { ...request.reload, priceUsdMicros: 10_000n } }) }]);
    written.length = 0;
    expect((await grant(deps, request)).poolId).toBe(first.poolId);
    expect(addOns()).toEqual([]);
    // A pool that does not reload carries no price.
    await grant(deps, { ...request, idempotencyKey: "g-plain", reload: undefined });
    expect(addOns().map((w) => w.pool.reload)).toEqual([null]);
  });

  it("opens a balance in a unit the plan does not name only for a call that succeeds in it; a refused one writes no unit", async () => {
    const { deps, store } = ledger();
    const request = { accountId: "acme", poolKind: "bonus" as const, unit: "tool_runs", amountMicros: 1_500_000n, priority: 0, reason: "r", actor: "ops", idempotencyKey: "g-half", traceId: "" };
    await expect(grant(deps, request)).rejects.toMatchObject({ field: "amount_micros" });
    const account = await store.account("acme");
    expect([...account!.units.keys()], "the cycle is open, in the plan's unit alone").toEqual(["credits"]);
    await grant(deps, { ...request, amountMicros: 2_000_000n, idempotencyKey: "g-two" });
    expect([...(await store.account("acme"))!.units.keys()].sort()).toEqual(["credits", "tool_runs"]);
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
    expect(await startWork(deps, account, start)).toEqual({ allowed: true, reason: null, availableMicros: 10n * CREDIT, metered: true });
    expect(await startWork(deps, account, start)).toEqual({ allowed: true, reason: null, availableMicros: 10n * CREDIT, metered: true, replayed: true });
    const started = (await store.account("acme"))!.work.get("run-1")!;
    expect((await store.account("acme"))!.idempotency.get("s")?.operation).toBe("start_run");
    advance(13 * 60_000);
    const tick = await meter(deps, account, { accountId: "acme", workId: "run-1", fromMs: started.chargedUntilMs, toMs: started.chargedUntilMs + 13 * 60_000, amountMicros: 13n * 60n * CREDIT, bucket: "compute", rateTableVersion: 3n, nextState: null, replicas: null, traceparent: "", traceId: "" });
    expect(tick).toMatchObject({ stale: false, state: "stopped", charge: { chargedMicros: 12n * CREDIT, proceed: false } });
    expect((await store.outbox("acme")).map((e) => e.kind)).toEqual(["negative_limit_reached", "threshold_crossed", "threshold_crossed", "work_stopped"]);
  });

  it("opens the new cycle for a metering tick past the cycle's end: running work is charged from the new allotment", async () => {
    const { deps, store, advance } = ledger();
    const account = await deps.accounts.get("acme");
    const start = { type: "startWork" as const, kind: "deployment" as const, accountId: "acme", workId: "dep-1", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "d", requestHash: "d" };
    expect(await startWork(deps, account, start)).toMatchObject({ allowed: true });
    const tickTo = async (to: Date, key: string) => {
      const work = (await store.account("acme"))!.work.get("dep-1")!;
      advance(to.getTime() - deps.now().getTime());
      return meter(deps, account, { accountId: "acme", workId: "dep-1", fromMs: work.chargedUntilMs, toMs: to.getTime(), amountMicros: CREDIT, bucket: "compute", rateTableVersion: 3n, nextState: null, replicas: null, traceparent: key, traceId: key });
    };
    expect(await tickTo(new Date("2026-11-30T23:59:50Z"), "november")).toMatchObject({ stale: false, state: "running", charge: { chargedMicros: CREDIT, proceed: true } });
    // Nothing else comes for the account: the tick after the cycle's end opens December.
    expect(await tickTo(new Date("2026-12-01T00:00:10Z"), "december")).toMatchObject({ stale: false, state: "running", charge: { chargedMicros: CREDIT, proceed: true } });
    const monthly = [...(await store.account("acme"))!.pools.values()].filter((pool) => pool.kind === "monthly");
    expect(monthly.map((pool) => [new Date(pool.expiresAtMs ?? 0).toISOString(), pool.balanceMicros])).toContainEqual(["2027-01-01T00:00:00.000Z", 9n * CREDIT]);
  });

  it("charges work in a context the plan does not allow in full, alone or on a hold: only work the plan leaves unmetered is free", async () => {
    const rule = { runLocations: [], computeSources: [], maxSeats: 0, reason: "", buckets: ["ai" as const], metered: true };
    const { deps } = ledger(view({
      eligibility: [
        { ...rule, inferenceSources: ["managed" as const], allowed: true },
        { ...rule, inferenceSources: ["byollm" as const], allowed: true, buckets: [], metered: false },
        { ...rule, inferenceSources: ["byok" as const], allowed: false, reason: "BYOK needs 10 seats or fewer" },
      ],
    }));
    const request = { accountId: "acme", holdId: null, usage: reply, final: true, attribution: {}, traceparent: "", traceId: "" };
    const byok = { ...context, inferenceSource: "byok" } as const;
    expect(await authorize(deps, { accountId: "acme", estimate: reply, idempotencyKey: "a-byok", ttlMs: 60_000, attribution: {}, context: byok, traceparent: "", traceId: "" }))
      .toMatchObject({ allowed: false, reason: "NOT_ELIGIBLE" });
    expect(await charge(deps, { ...request, idempotencyKey: "c-byok", context: byok })).toMatchObject({ chargedMicros: CREDIT });
    expect(await charge(deps, { ...request, idempotencyKey: "c-byollm", context: { ...context, inferenceSource: "byollm" } })).toMatchObject({ chargedMicros: 0n });
    // Authorized where it is allowed, then charged naming a forbidden context: the hold's price is collected, nothing released unpaid.
    const hold = await authorize(deps, { accountId: "acme", estimate: reply, idempotencyKey: "a-managed", ttlMs: 60_000, attribution: {}, context, traceparent: "", traceId: "" });
    expect(await charge(deps, { ...request, holdId: hold.holdId!, idempotencyKey: "c-hold-byok", context: byok })).toMatchObject({ chargedMicros: CREDIT, releasedMicros: 0n });
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

  describe("charges on a hold round the hold's running total once, at the hold's rate table version", () => {
    // 1,500 µcr per million input tokens: 1,000 tokens cost 1.5 µcr, 2 once rounded; 100 tokens alone round to 0.
    const tokenTable: RateTable = {
      ...table, rates: [...table.rates, {
        bucket: "ai", unit: "credits", kind: "model_token", model: "tok", inputMicrosPerMillion: 1_500n, outputMicrosPerMillion: 0n,
        cacheReadMicrosPerMillion: 0n, cacheWriteMicrosPerMillion: 0n, inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n,
      }],
    };
    const tokens = (inputTokens: bigint) => ({ kind: "model_tokens" as const, model: "tok", inputTokens, outputTokens: 0n, cacheReadTokens: 0n, cacheWriteTokens: 0n });

    /** Authorizes 1,000 tokens and charges them in `parts` increments as even as whole tokens allow (the last one final); the hold's total. */
    async function chargedInParts(parts: number, between: (l: ReturnType<typeof ledger>) => void = () => undefined) {
      const l = ledger();
      l.publish({ ...tokenTable, version: 4n });
      const hold = await authorize(l.deps, { accountId: "acme", estimate: tokens(1_000n), attribution: {}, idempotencyKey: "a", ttlMs: 60_000, context });
      between(l);
      let total = 0n;
      for (let i = 0; i < parts; i++) {
        const answer = await charge(l.deps, {
          accountId: "acme", holdId: hold.holdId, usage: tokens(1_000n / BigInt(parts) + (BigInt(i) < 1_000n % BigInt(parts) ? 1n : 0n)), final: i === parts - 1, idempotencyKey: `c${i}`, attribution: {}, context, traceparent: "", traceId: "",
        });
        expect(answer.rateTableVersion).toBe(4n);
        total += answer.chargedMicros;
      }
      const entries = (await l.store.entries("acme")).filter((e) => e.kind === "charge");
      expect(entries.reduce((sum, e) => sum + e.amountMicros, 0n)).toBe(total);
      return total;
    }

    it("costs exactly the same split 1, 3 and 10 ways (Charge with final=false, then final)", async () => {
      // Rounded per charge, the same usage would cost 2, 1 and 0 µcr.
      expect([await chargedInParts(1), await chargedInParts(3), await chargedInParts(10)]).toEqual([2n, 2n, 2n]);
    });

    it("keeps the hold's rate table version when a new one is published mid-hold", async () => {
      const dearer = { ...tokenTable, version: 5n, rates: tokenTable.rates.map((r) => (r.kind === "model_token" ? { ...r, inputMicrosPerMillion: 900_000n } : r)) };
      expect(await chargedInParts(10, (l) => l.publish(dearer))).toBe(2n);
      // A hold authorized after the change pays the new rate.
      const l = ledger();
      l.publish(dearer);
      const hold = await authorize(l.deps, { accountId: "acme", estimate: tokens(1_000n), attribution: {}, idempotencyKey: "a", ttlMs: 60_000, context });
      const charged = await charge(l.deps, { accountId: "acme", holdId: hold.holdId, usage: tokens(1_000n), final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" });
      expect(charged).toMatchObject({ chargedMicros: 900n, rateTableVersion: 5n });
    });

    it("charges a hold for a model the version in effect dropped at the hold's version, which has it; without a hold that model is NOT_FOUND", async () => {
      const l = ledger();
      const hold = await authorize(l.deps, { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "a", ttlMs: 60_000, context });
      l.publish({ ...table, version: 4n, rates: table.rates.filter((r) => r.kind !== "model_reply") });
      const request = { accountId: "acme", holdId: hold.holdId, usage: reply, final: true, idempotencyKey: "c", attribution: {}, context, traceparent: "", traceId: "" };
      const charged = await charge(l.deps, request);
      expect(charged).toMatchObject({ chargedMicros: CREDIT, rateTableVersion: 3n });
      // Its retry replays (it is priced at the hold's version again, then recalled).
      expect(await charge(l.deps, request)).toMatchObject({ entryId: charged.entryId, replayed: true });
      await expect(charge(l.deps, { ...request, holdId: null, idempotencyKey: "c2" })).rejects.toMatchObject({ constructor: NotFoundError, what: "model", id: "gpt" });
      // A hold authorized at the new version has no such rate either.
      const usage = { kind: "active_time" as const, seconds: 1n };
      const later = await authorize(l.deps, { accountId: "acme", estimate: usage, attribution: {}, idempotencyKey: "a2", ttlMs: 60_000, context });
      expect(later.allowed).toBe(true);
      await expect(charge(l.deps, { ...request, holdId: later.holdId, idempotencyKey: "c3" })).rejects.toMatchObject({ constructor: NotFoundError, what: "model" });
    });

    it("extends a hold by an estimate of a model the version in effect dropped, at the hold's version, which has it", async () => {
      const l = ledger();
      const hold = await authorize(l.deps, { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "a", ttlMs: 60_000, context });
      l.publish({ ...table, version: 4n, rates: table.rates.filter((r) => r.kind !== "model_reply") });
      expect(await extendHold(l.deps, { accountId: "acme", holdId: hold.holdId!, estimate: reply, ttlMs: 0, idempotencyKey: "x" })).toMatchObject({ allowed: true, amountMicros: 2n * CREDIT });
      const usage = { kind: "active_time" as const, seconds: 1n };
      const later = await authorize(l.deps, { accountId: "acme", estimate: usage, attribution: {}, idempotencyKey: "a2", ttlMs: 60_000, context });
      expect(later.allowed).toBe(true);
      await expect(extendHold(l.deps, { accountId: "acme", holdId: later.holdId!, estimate: reply, ttlMs: 0, idempotencyKey: "x2" })).rejects.toMatchObject({ constructor: NotFoundError, what: "model" });
    });

    it("prices an ExtendHold estimate at the hold's version too", async () => {
      const l = ledger();
      const hold = await authorize(l.deps, { accountId: "acme", estimate: reply, attribution: {}, idempotencyKey: "a", ttlMs: 60_000, context });
      l.publish({ ...table, version: 4n, rates: table.rates.map((r) => (r.kind === "model_reply" ? { ...r, microsPerReply: 3n * CREDIT } : r)) });
      const extended = await extendHold(l.deps, { accountId: "acme", holdId: hold.holdId!, estimate: reply, ttlMs: 0, idempotencyKey: "x" });
      expect(extended).toMatchObject({ allowed: true, amountMicros: 2n * CREDIT });
    });
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
    await expect(reverse(deps, { ...request, entryId: reversed.entryId, idempotencyKey: "r6" }), "a reversal is final").rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "NOT_A_CHARGE" });
    const granted = (await store.entries("acme")).find((e) => e.kind === "grant")!;
    await expect(reverse(deps, { ...request, entryId: granted.entryId, idempotencyKey: "r7" })).rejects.toMatchObject({
      constructor: FailedPreconditionError, reason: "NOT_A_CHARGE", message: `entry ${granted.entryId} is a grant, not a charge: only charges are reversed (an adjustment corrects the others)`,
    });
    await expect(reverse(deps, { ...request, reason: "", idempotencyKey: "r4" })).rejects.toMatchObject({ constructor: InvalidArgumentError, field: "reason" });
    // A charge drawn from last cycle's monthly pool cannot go back into it.
    const old = await charge(deps, { accountId: "acme", holdId: null, usage: reply, final: true, idempotencyKey: "c2", attribution: {}, context, traceparent: "", traceId: "" });
    advance(15 * 86_400_000);
    await rollOver(deps, "acme");
    await expect(reverse(deps, { ...request, entryId: old.entryId, idempotencyKey: "r5" })).rejects.toMatchObject({ constructor: FailedPreconditionError, reason: "POOL_CLOSED" });
  });
});
