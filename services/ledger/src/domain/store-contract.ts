/**
 * One test suite for every LedgerStateStore (the in-memory one and
 * PostgreSQL's): what a store must do whatever it keeps its rows in. Run by
 * memory-store.test.ts and data/state-store.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnswerOf, Command, MeterCommand, Result, RollOverCommand, StartWorkCommand } from "./commands.js";
import type { RoomExhausted } from "./rules/room-exhausted.js";
import { execute, type BatchOutcome } from "./state-machine.js";
import type { RunningPricing } from "./rules/running-total.js";
import type { AccountState } from "./state.js";
import type { LedgerJournal, LedgerStateStore } from "./store.js";
import type { Entry, OutboxEvent, Write } from "./writes.js";

export interface StoreUnderTest extends LedgerStateStore, LedgerJournal {
  /** The account as the next transaction would read it, with every row it ever had. */
  account(accountId: string): Promise<AccountState | undefined>;
}

export interface OpenedStore {
  store: StoreUnderTest;
  /** Error codes of transactions the store had to try again (a deadlock would show here). */
  retried?: () => string[];
  close?: () => Promise<void>;
  /** The room-exhausted signals the store has sent at commit so far, as a listener received them (in commit order). */
  roomSignals: () => readonly RoomExhausted[];
}

/** Waits until `check` holds (a store's signals may arrive after its commit), failing after a generous while. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!check()) throw new Error(`never happened: ${what}`);
}

const CREDIT = 1_000_000n;
const T0 = Date.UTC(2026, 10, 1);
const FACTS = { suspended: false, drawdownOrder: ["free_grant", "bonus", "add_on"], thresholdPercents: [50, 90] };

const rollOver = (accountId: string, allotmentMicros: bigint, signup: RollOverCommand["signupGrants"] = []): RollOverCommand => ({
  type: "rollOver", accountId, planId: "plan", planVersion: 1n, cycleStartMs: T0, cycleEndMs: T0 + 30 * 86_400_000,
  units: [{ unit: "credits", allotmentMicros, negativeLimitMicros: 20n * CREDIT, lowCreditLimitMicros: 0n, kind: "monthly" }], signupGrants: signup,
});
const charge = (accountId: string, key: string, amountMicros: bigint, holdId: string | null = null, final = true, running?: RunningPricing): Command => ({
  type: "charge", accountId, holdId, unit: "credits", bucket: "ai", amountMicros, final, idempotencyKey: key, requestHash: `h:${key}:${amountMicros}`,
  attribution: { conversation_id: "c1" }, rateTableVersion: 7n, traceparent: "00-aa-bb-01", traceId: "trace", ...(running ? { running } : {}),
});
/** 10 credits per million input tokens, at the rate table sequence the holds here record (7). */
const TOKENS: RunningPricing = {
  usage: { kind: "model_tokens", model: "m", inputTokens: 2_000_000n, outputTokens: 0n, cacheReadTokens: 0n, cacheWriteTokens: 0n },
  table: {
    tableId: "rates", version: 1n, sequence: 7n, effectiveFrom: new Date(0),
    rates: [{ bucket: "ai", unit: "credits", kind: "model_token", model: "m", inputMicrosPerMillion: 10n * CREDIT, outputMicrosPerMillion: 0n, cacheReadMicrosPerMillion: 0n, cacheWriteMicrosPerMillion: 0n, inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n }],
  },
  providerCost: false,
  metered: true,
};

/** A cycle as an instant, however the store prints it. */
function normalised(event: OutboxEvent) {
  const { cycle, ...payload } = event.payload;
  return { ...event, payload: { ...payload, ...(cycle === undefined ? {} : { cycle: Date.parse(String(cycle)) }) } };
}

export function describeLedgerStateStore(name: string, open: () => Promise<OpenedStore>): void {
  describe(`ledger state store: ${name}`, () => {
    let opened: OpenedStore;
    let store: StoreUnderTest;
    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await opened?.close?.();
    });

    /** Runs a batch through the state machine in one transaction, keeping what it decided. */
    const decided: BatchOutcome[] = [];
    async function run(commands: Command[], nowMs: number): Promise<Result<unknown>[]> {
      return store.transact(commands, (state, ids) => {
        for (const account of state.values()) account.facts = FACTS;
        const batch = execute(state, commands, { nowMs, ids });
        decided.push(batch);
        return { value: batch.outcomes.map((o) => o.result), writes: batch.writes };
      });
    }
    const value = <K extends keyof AnswerOf>(result: Result<unknown> | undefined, _kind: K): AnswerOf[K] => {
      if (!result?.ok) throw new Error(`refused: ${JSON.stringify(result, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
      return result.value as AnswerOf[K];
    };

    it("reads back every kind of write exactly as the state machine made it", async () => {
      const id = `raw-${name}`;
      decided.length = 0;
      await run([rollOver(id, 100n * CREDIT, [{ unit: "credits", amountMicros: 5n * CREDIT, expiresAtMs: T0 + 1_000 }])], T0);
      const [addOn] = await run([
        { type: "grant", accountId: id, unit: "credits", kind: "add_on", amountMicros: 10n * CREDIT, expiresAtMs: null, priority: 1, reason: "bought", actor: "ops", traceId: "t", reload: { belowMicros: 5n * CREDIT, toMicros: 10n * CREDIT, cooldownMs: 0 }, reloadPriceUsdMicros: 10_000n, idempotencyKey: "g1", requestHash: "g1" },
        { type: "grant", accountId: id, unit: "credits", kind: "bonus", amountMicros: 3n * CREDIT, expiresAtMs: T0 + 500, priority: 0, reason: "promo", actor: "ops", traceId: "t", reload: null, idempotencyKey: "g2", requestHash: "g2" },
      ], T0 + 1);
      const authorize = (key: string, amountMicros: bigint, ttlMs: number): Command => ({
        type: "authorize", accountId: id, unit: "credits", bucket: "ai", amountMicros, ttlMs, attribution: { task_id: key }, rateTableVersion: 7n,
        eligibility: { allowed: true, metered: true, reason: "" }, idempotencyKey: key, requestHash: key,
      });
      const [a, b] = await run([authorize("a1", 30n * CREDIT, 1_000_000), authorize("a2", 10n * CREDIT, 100)], T0 + 10);
      const holdA = value(a, "authorize").holdId!;
      expect(value(b, "authorize").allowed).toBe(true);
      await run([
        // On a hold, priced by its running total (kept on the hold).
        charge(id, "c1", 20n * CREDIT, holdA, false, TOKENS),
        { type: "startWork", kind: "deployment", accountId: id, workId: `dep-${name}`, unit: "credits", replicas: 2, attribution: { team: "x" }, endpoint: "https://e", idempotencyKey: "s1", requestHash: "s1" },
      ], T0 + 20);
      // The second hold and the bonus pool have expired: returned and closed before the next write.
      await run([charge(id, "c2", 108n * CREDIT), { type: "release", accountId: id, holdId: holdA, idempotencyKey: "r1", requestHash: "r1" }], T0 + 600);
      await run([{ type: "adjust", accountId: id, poolId: value(addOn, "grant").poolId, amountMicros: -CREDIT, reason: "fix", actor: "support", traceId: "t", idempotencyKey: "ad1", requestHash: "ad1" }], T0 + 700);
      await run([{
        type: "meter", accountId: id, workId: `dep-${name}`, fromMs: T0 + 20, toMs: T0 + 800, amountMicros: 1_000n * CREDIT, bucket: "compute", rateTableVersion: 7n,
        nextState: null, replicas: null, traceparent: "", traceId: "",
      }], T0 + 800);
      await run([{ type: "expireHolds", accountId: id }, { type: "expirePools", accountId: id }], T0 + 2_000);
      const [replay] = await run([charge(id, "c1", 20n * CREDIT, holdA, false, TOKENS)], T0 + 3_000);
      expect(replay).toMatchObject({ ok: true, replayed: true });

      // Everything the batches read or wrote, as they left it.
      const expected: AccountState = { ...decided[0]!.state.get(id)!, units: new Map(), pools: new Map(), holds: new Map(), idempotency: new Map(), work: new Map() };
      for (const batch of decided) {
        const after = batch.state.get(id)!;
        expected.cycle = after.cycle;
        for (const field of ["units", "pools", "holds", "idempotency", "work"] as const) {
          for (const [k, v] of after[field] as Map<string, unknown>) (expected[field] as Map<string, unknown>).set(k, v);
        }
      }
      const read = (await store.account(id))!;
      expect(read.cycle).toEqual(expected.cycle);
      for (const field of ["units", "pools", "holds", "idempotency", "work"] as const) {
        expect(new Map([...(read[field] as Map<string, unknown>)].sort()), field).toEqual(new Map([...(expected[field] as Map<string, unknown>)].sort()));
      }
      const writes = decided.flatMap((batch) => batch.writes);
      const entries = writes.flatMap((w: Write) => (w.type === "entry" ? [w.entry] : [])).sort((x: Entry, y: Entry) => (x.entryId < y.entryId ? -1 : 1));
      // The second charge is short while a hold reserves part of the balance: the add-on reloads after its draw. The metering
      // tick's is short with no hold left: it reloads ahead of its draw (its "grant" before the "charge").
      expect(entries.map((e) => e.kind)).toEqual(["grant", "grant", "grant", "grant", "charge", "expire", "charge", "grant", "adjust", "grant", "charge", "expire"]);
      expect(await store.entries(id)).toEqual(entries);
      const events = writes.flatMap((w: Write) => (w.type === "outbox" ? [normalised(w.event)] : []));
      expect(events.map((e) => e.kind)).toEqual(["deployment_changed", "pool_expired", "pool_reloaded", "threshold_crossed", "threshold_crossed", "pool_reloaded", "negative_limit_reached", "work_stopped", "pool_expired"]);
      // Each reload billed at the pool's price ($0.01 a credit), read back with the pool from the store.
      const reloads = events.filter((e) => e.kind === "pool_reloaded").map((e) => e.payload as { amount_micros: string; price_usd_micros?: string });
      expect(reloads.map((p) => p.price_usd_micros)).toEqual(reloads.map((p) => String(BigInt(p.amount_micros) / 100n)));
      expect((await store.outbox(id)).map(normalised)).toEqual(events);
    });

    it("keeps a monthly pool's allotment as a move to a larger plan raises it, and a reload turned off by support", async () => {
      const id = `allotted-${name}`;
      await run([rollOver(id, 100n * CREDIT)], T0);
      const [addOn] = await run([
        { type: "grant", accountId: id, unit: "credits", kind: "add_on", amountMicros: 10n * CREDIT, expiresAtMs: null, priority: 1, reason: "bought", actor: "ops", traceId: "t", reload: { belowMicros: 5n * CREDIT, toMicros: 10n * CREDIT, cooldownMs: 0 }, idempotencyKey: "g1", requestHash: "g1" },
      ], T0 + 1);
      const poolId = value(addOn, "grant").poolId;
      await run([
        { ...rollOver(id, 300n * CREDIT), planVersion: 2n },
        { type: "adjust", accountId: id, poolId, amountMicros: -10n * CREDIT, reason: "refund", actor: "support", traceId: "t", idempotencyKey: "ad1", requestHash: "ad1" },
      ], T0 + 2);
      const read = (await store.account(id))!;
      expect([...read.pools.values()].find((p) => p.kind === "monthly")).toMatchObject({ balanceMicros: 300n * CREDIT, grantedMicros: 300n * CREDIT, allottedMicros: 300n * CREDIT });
      expect(read.pools.get(poolId)).toMatchObject({ balanceMicros: 0n, reload: null });
    });

    it("applies nothing of a batch whose decision throws or whose writes cannot all be made", async () => {
      const id = `all-${name}`;
      await run([rollOver(id, 10n * CREDIT)], T0);
      const before = await store.account(id);
      await expect(store.transact([charge(id, "x", CREDIT)], () => { throw new Error("boom"); })).rejects.toThrow("boom");
      // A valid cycle change and held delta, then a pool of an account nobody read: all or nothing.
      await expect(store.transact([charge(id, "y", CREDIT)], () => ({
        value: null,
        writes: [
          { type: "cycle", accountId: id, cycle: { planId: "other", planVersion: 2n, startMs: T0, endMs: T0 + 1 } },
          { type: "held", accountId: id, unit: "credits", deltaMicros: CREDIT },
          { type: "pool", pool: { ...[...before!.pools.values()][0]!, poolId: "7f0c1a8e-0000-4000-8000-000000000000", accountId: `ghost-${name}`, grantKey: `ghost-${name}` } },
        ],
      }))).rejects.toThrow();
      expect(await store.account(id)).toEqual(before);
      expect((await store.entries(id)).map((e) => e.kind)).toEqual(["grant"]);
    });

    it("runs concurrent batches over overlapping accounts without a deadlock, each seeing the last one's writes", async () => {
      const ids = ["d", "a", "c", "b"].map((x) => `lock-${name}-${x}`);
      await run(ids.map((id) => rollOver(id, 1_000n * CREDIT)), T0);
      const orders = [[0, 1, 2], [2, 1, 0], [3, 0], [1, 3, 2], [0, 3], [2, 0, 1]];
      const rounds = 4;
      const results = await Promise.all(
        Array.from({ length: rounds }, (_, round) => orders.map((order, i) => run(order.flatMap((k) => [charge(ids[k]!, `k${round}:${i}:${k}:1`, CREDIT), charge(ids[k]!, `k${round}:${i}:${k}:2`, CREDIT)]), T0 + 10))).flat(),
      );
      expect(results.flat().every((r) => r.ok)).toBe(true);
      for (const [k, id] of ids.entries()) {
        const charges = 2 * rounds * orders.filter((order) => order.includes(k)).length;
        const pools = [...(await store.account(id))!.pools.values()];
        expect(pools.reduce((total, p) => total + p.balanceMicros, 0n), id).toBe((1_000n - BigInt(charges)) * CREDIT);
        expect((await store.entries(id)).filter((e) => e.kind === "charge")).toHaveLength(charges);
      }
      expect(opened.retried?.().filter((code) => code === "40P01") ?? []).toEqual([]);
    });

    it("keeps budgets as the batches left them: set by support, counted by charges, crossings in the outbox; concurrent charges never pass a hard one", async () => {
      const id = `budget-${name}`;
      decided.length = 0;
      await run([rollOver(id, 100n * CREDIT)], T0);
      const set = (key: string, limitMicros: bigint, fields: Partial<Extract<Command, { type: "setBudget" }>> = {}): Command => ({
        type: "setBudget", accountId: id, unit: "credits", scope: "agent", scopeId: "a1", limitMicros, mode: "hard", perCycle: true, thresholdPercents: [50],
        reason: "cap", actor: "support", idempotencyKey: key, requestHash: key, ...fields,
      });
      await run([set("b1", 10n * CREDIT), set("b2", 4n * CREDIT, { scope: "workspace", scopeId: "w1", mode: "soft", perCycle: false, thresholdPercents: [] })], T0 + 1);
      const spend = (key: string, amountMicros: bigint): Command => ({ ...(charge(id, key, amountMicros) as Extract<Command, { type: "charge" }>), attribution: { agent_id: "a1", workspace_id: "w1" } });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => run([spend(`s${i}`, CREDIT)], T0 + 2)));
      const charged = results.flat().reduce((total, r) => total + value(r, "charge").chargedMicros, 0n);
      expect(charged).toBe(10n * CREDIT);
      const expected = new Map<string, unknown>();
      for (const batch of decided) for (const [k, v] of batch.state.get(id)!.budgets) expected.set(k, v);
      const read = (await store.account(id))!;
      expect(new Map([...read.budgets].sort())).toEqual(new Map([...expected].sort()));
      expect(read.budgets.get("credits/agent/a1")).toMatchObject({ usedMicros: 10n * CREDIT, crossedPercents: [50], periodStartMs: T0 });
      expect(read.budgets.get("credits/workspace/w1")).toMatchObject({ usedMicros: 10n * CREDIT, crossedPercents: [80, 100], periodStartMs: T0 + 1 });
      // In one batch: a charge, then support turns the budget per set-time (its usage starts again), then another charge.
      await run([spend("m1", 0n), set("b3", 20n * CREDIT, { perCycle: false }), spend("m2", 2n * CREDIT)], T0 + 3);
      await run([spend("n1", CREDIT), set("b4", 30n * CREDIT, { perCycle: true })], T0 + 4);
      const changed = (await store.account(id))!.budgets.get("credits/agent/a1")!;
      expect(changed).toEqual(decided.at(-1)!.state.get(id)!.budgets.get("credits/agent/a1"));
      expect(changed).toMatchObject({ usedMicros: 0n, perCycle: true, limitMicros: 30n * CREDIT });
      expect((await store.outbox(id)).filter((e) => e.kind === "budget_crossed").map((e) => [e.payload.budget_id, e.payload.threshold_percent])).toEqual([
        ["credits/workspace/w1", 80], ["credits/workspace/w1", 100], ["credits/agent/a1", 50],
      ]);
      // Support removes budgets: one alone; another removed, charged past and set again in one batch (a new budget, nothing used).
      const remove = (key: string, budgetId: string): Command => ({ type: "deleteBudget", accountId: id, budgetId, reason: "done", actor: "support", idempotencyKey: key, requestHash: key });
      await run([remove("d1", "credits/workspace/w1")], T0 + 5);
      await run([remove("d2", "credits/agent/a1"), spend("p1", CREDIT), set("b5", 5n * CREDIT, { perCycle: false })], T0 + 6);
      const after = (await store.account(id))!.budgets;
      expect([...after.keys()]).toEqual(["credits/agent/a1"]);
      expect(after.get("credits/agent/a1")).toEqual(decided.at(-1)!.state.get(id)!.budgets.get("credits/agent/a1"));
      expect(after.get("credits/agent/a1")).toMatchObject({ usedMicros: 0n, limitMicros: 5n * CREDIT, createdAtMs: T0 + 6 });
    });

    it("keeps runs and deployments as the state machine leaves them: start, ticks with running totals, pause, resume, scale, undeploy", async () => {
      const id = `work-${name}`;
      const dep = `dep-w-${name}`;
      const runId = `run-w-${name}`;
      decided.length = 0;
      await run([rollOver(id, 100n * CREDIT)], T0);
      const start = (fields: Partial<StartWorkCommand> & Pick<StartWorkCommand, "kind" | "workId" | "idempotencyKey">): StartWorkCommand => ({
        type: "startWork", accountId: id, unit: "credits", replicas: 1, attribution: { team: "x" }, endpoint: "", requestHash: fields.idempotencyKey, ...fields,
      });
      const tick = (workId: string, fromMs: number, toMs: number, amountMicros: bigint, fields: Partial<MeterCommand> = {}): MeterCommand => ({
        type: "meter", accountId: id, workId, fromMs, toMs, amountMicros, bucket: "compute", rateTableVersion: 7n, nextState: null, replicas: null, traceparent: "", traceId: "", ...fields,
      });
      const [deployed, started] = await run([
        start({
          kind: "deployment", workId: dep, idempotencyKey: "w1", replicas: 2, endpoint: "https://e", usage: { kind: "gpu_time", gpuType: "A100", replicas: "0", seconds: "0" },
          labels: { model: "llama" }, context: { run_location: "cloud", inference_source: "managed", compute_source: "hosted" },
        }),
        start({ kind: "run", workId: runId, idempotencyKey: "w2", usage: { kind: "active_time", seconds: "0" }, eligibility: { allowed: true, metered: false, reason: "self-hosted" } }),
      ], T0 + 1_000);
      expect([value(deployed, "startWork").allowed, value(started, "startWork").allowed]).toEqual([true, true]);
      await run([tick(dep, T0 + 1_000, T0 + 4_000, 6n * CREDIT, { pricedQuantity: 6n, pricedMicros: 6n * CREDIT }), tick(runId, T0 + 1_000, T0 + 4_000, 0n, { nextState: "paused" })], T0 + 4_000);
      const [resumed] = await run([{ type: "resumeWork", accountId: id, workId: runId }], T0 + 9_000);
      expect(value(resumed, "resumeWork")).toEqual({ state: "running" });
      await run([tick(dep, T0 + 4_000, T0 + 5_000, 2n * CREDIT, { replicas: 3, pricedQuantity: 8n, pricedMicros: 8n * CREDIT })], T0 + 5_000);
      const [stale] = await run([tick(dep, T0 + 4_000, T0 + 5_000, 2n * CREDIT)], T0 + 5_001);
      expect(value(stale, "meter")).toEqual({ stale: true, state: "running", charge: null });
      await run([
        tick(dep, T0 + 5_000, T0 + 6_000, 3n * CREDIT, { nextState: "undeployed", pricedQuantity: 11n, pricedMicros: 11n * CREDIT }),
        tick(runId, T0 + 9_000, T0 + 10_000, 0n, { nextState: "finished" }),
      ], T0 + 10_000);

      const expected = decided.at(-1)!.state.get(id)!.work;
      expect(expected.get(dep)).toMatchObject({ state: "undeployed", replicas: 3, chargedMicros: 11n * CREDIT, pricedQuantity: 11n, activeMs: 5_000, chargedUntilMs: T0 + 6_000 });
      expect(expected.get(runId)).toMatchObject({ state: "finished", chargedMicros: 0n, activeMs: 4_000, metered: false });
      const read = (await store.account(id))!;
      expect(new Map([...read.work].sort())).toEqual(new Map([...expected].sort()));
      expect(read.idempotency.get("w1")?.operation).toBe("start_deployment");
      expect((await store.entries(id)).filter((e) => e.kind === "charge").map((e) => [e.amountMicros, e.attribution.deployment_id])).toEqual([
        [6n * CREDIT, dep], [2n * CREDIT, dep], [3n * CREDIT, dep],
      ]);
      expect((await store.outbox(id)).filter((e) => e.kind === "deployment_changed").map((e) => e.payload)).toEqual([
        { deployment_id: dep, state: "deployed", endpoint: "https://e", replicas: 2 },
        { deployment_id: dep, state: "undeployed", endpoint: "https://e", replicas: 3 },
      ]);
    });

    it("emits spend_cap_reached when a batch takes the cap to zero, once per account and cycle", async () => {
      const id = `cap-${name}`;
      const usd = (key: string, amountMicros: bigint): Command => ({ ...charge(id, key, amountMicros), unit: "usd" } as Command);
      await run([{ ...rollOver(id, 0n), units: [{ unit: "usd", allotmentMicros: 10n * CREDIT, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "spend_cap" }] }], T0);
      await run([usd("u1", 4n * CREDIT)], T0 + 1);
      const capped = async () => (await store.outbox(id)).filter((e) => e.kind === "spend_cap_reached").map(normalised);
      expect(await capped()).toEqual([]);
      await run([usd("u2", 6n * CREDIT)], T0 + 2);
      const reached = { accountId: id, kind: "spend_cap_reached", traceparent: "", payload: { cap_micros: String(10n * CREDIT), spent_micros: String(10n * CREDIT), cycle: T0 } };
      expect(await capped()).toEqual([reached]);
      // The cap raised and reached again in the same cycle: nothing more.
      const cap = [...(await store.account(id))!.pools.values()].find((p) => p.kind === "spend_cap")!;
      await run([{ type: "adjust", accountId: id, poolId: cap.poolId, amountMicros: 5n * CREDIT, reason: "raise", actor: "ops", traceId: "", idempotencyKey: "a1", requestHash: "a1" }], T0 + 3);
      await run([usd("u3", 5n * CREDIT)], T0 + 4);
      expect(await capped()).toEqual([reached]);
    });

    it("signals a unit left with no room when the batch commits, not when the batch gives the room back", async () => {
      const [quiet, exhausted] = [`room-q-${name}`, `room-x-${name}`];
      await run([rollOver(quiet, 10n * CREDIT), rollOver(exhausted, 10n * CREDIT)], T0);
      const grant = (accountId: string): Command => ({
        type: "grant", accountId, unit: "credits", kind: "bonus", amountMicros: 40n * CREDIT, expiresAtMs: null, priority: 0, reason: "r", actor: "ops", traceId: "", reload: null, idempotencyKey: "g", requestHash: "g",
      });
      // Up to the negative limit (20) and back in one batch; then the other account up to it alone.
      await run([charge(quiet, "q1", 30n * CREDIT), grant(quiet)], T0 + 1);
      await run([charge(exhausted, "x1", 30n * CREDIT)], T0 + 2);
      await until(() => opened.roomSignals().some((r) => r.accountId === exhausted), "the room-exhausted signal");
      expect(opened.roomSignals().filter((r) => r.accountId === quiet || r.accountId === exhausted)).toEqual([{ accountId: exhausted, unit: "credits", roomMicros: 0n }]);
    });

    it("keeps one record per idempotency key: a replay answers the same and writes nothing, another request is refused", async () => {
      const id = `keys-${name}`;
      await run([rollOver(id, 10n * CREDIT)], T0);
      const [first, again] = await run([charge(id, "k", 3n * CREDIT), charge(id, "k", 3n * CREDIT)], T0 + 1);
      const [later] = await run([charge(id, "k", 3n * CREDIT)], T0 + 2);
      const [other] = await run([charge(id, "k", 4n * CREDIT)], T0 + 3);
      expect(first).toMatchObject({ ok: true, replayed: false });
      const answer = value(first, "charge");
      expect(again).toEqual({ ok: true, value: answer, replayed: true });
      expect(later).toEqual({ ok: true, value: answer, replayed: true });
      expect(other).toMatchObject({ ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" } });
      const account = (await store.account(id))!;
      expect(account.idempotency.get("k")).toEqual({ key: "k", operation: "charge", requestHash: `h:k:${3n * CREDIT}`, response: answer, atMs: T0 + 1 });
      expect((await store.entries(id)).filter((e) => e.kind === "charge")).toHaveLength(1);
    });
  });
}
