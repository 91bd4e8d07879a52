/**
 * The differential test of the ledger: one random sequence of Grant,
 * Authorize, Charge (one-shot, on a hold, above the hold), Release,
 * ExtendHold, Adjust, ReverseCharge, SetBudget and DeleteBudget (soft and hard budgets on
 * two tasks, which Authorize and Charge are attributed to or not) — with bad inputs, replays, reused
 * keys, unknown and foreign ids, several accounts, plans and units, negative
 * and low-credit limits, pools with priorities and expiry, holds that expire —
 * is run (a) by the use cases over the in-memory store (the state machine
 * alone, no database; requests checked against the contract's bounds first,
 * as the ledger's edge checks them) and (b) by the running ledger over gRPC
 * (PostgreSQL store, group commit, authentication on). Every answer must be the same
 * (ok or error code, reason and field; denial reason, amounts, balances,
 * held, hold status, expiry times, a budget's used and reserved), and so must each account's balances,
 * pools, holds, journal and budgets at the end.
 *
 * Time: both sides decide at the same instants. The ledger is started with a
 * clock the test moves (`tick`), and the memory side reads the same clock. The
 * clock runs ahead of the real time, so the ledger's sweepers (which select by
 * the database's time) only ever expire what the clock has expired too.
 *
 * A failure names the seed and the calls before the first difference:
 * `DIFF_SEED=<seed> npx vitest run test/ledger.differential.test.ts` runs it
 * again (`DIFF_RUNS`, `DIFF_OPS`: sequences and operations per sequence).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import fc from "fast-check";
import type { ServiceError } from "@grpc/grpc-js";
import { runContextFromProto } from "@tollgate/eligibility";
import { call, createClient, descriptors, errorDetails, ROLES, toServiceError, validateMessage } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { int64, unitFromProto, usageFromProto } from "@tollgate/rating";
import { createTestDatabase, TEST_PRINCIPAL, type TestDatabase } from "@tollgate/testing";
import { AccountCache } from "../services/ledger/src/data/account-cache.js";
import { RateCache } from "../services/ledger/src/data/rate-cache.js";
import { MemoryLedgerStore } from "../services/ledger/src/domain/memory-store.js";
import { adjust } from "../services/ledger/src/domain/use-cases/adjust.js";
import { authorize } from "../services/ledger/src/domain/use-cases/authorize.js";
import { charge } from "../services/ledger/src/domain/use-cases/charge.js";
import { extendHold } from "../services/ledger/src/domain/use-cases/extend-hold.js";
import { grant } from "../services/ledger/src/domain/use-cases/grant.js";
import { release } from "../services/ledger/src/domain/use-cases/release.js";
import { reverse } from "../services/ledger/src/domain/use-cases/reverse.js";
import { deleteBudget } from "../services/ledger/src/domain/use-cases/delete-budget.js";
import { setBudget } from "../services/ledger/src/domain/use-cases/set-budget.js";
import { rollOver } from "../services/ledger/src/domain/use-cases/roll-over.js";
import type { LedgerDeps } from "../services/ledger/src/domain/use-cases/run.js";
import type { BudgetAnswer } from "../services/ledger/src/domain/commands.js";
import { budgetAnswer } from "../services/ledger/src/domain/rules/budgets.js";
import { attributionFromProto, budgetModeFromProto, budgetScopeFromProto, poolKindFromProto } from "../services/ledger/src/transport/codec.js";
import { startPlatform, type Platform } from "./platform.js";

const L = ledgerV1;
const E = entitlementsV1;
const C = commonV1;
const MICROS_PER_REPLY = 1_000;
const OPS_PER_RUN = Number(process.env.DIFF_OPS ?? 300);
const RUNS = Number(process.env.DIFF_RUNS ?? 2);
const SEED = Number(process.env.DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LONG_TTL_MS = 10 * 60_000;
const UNKNOWN_HOLDS = ["00000000-0000-4000-8000-000000000000", "no-such-hold"];
const UNKNOWN_POOL = "00000000-0000-4000-8000-000000000001";
const SOME_UUID = "00000000-0000-4000-8000-0000000000ff";

/** Models priced one per unit (1,000 micros a reply); `nope` is priced by no rate. */
const MODELS = { credits: "diff-credits", tool_runs: "diff-tools", usd: "diff-usd", none: "diff-nope" } as const;
type Model = keyof typeof MODELS;
const UNITS = { credits: C.Unit.UNIT_CREDITS, tool_runs: C.Unit.UNIT_TOOL_RUNS, usd: C.Unit.UNIT_USD, none: C.Unit.UNIT_UNSPECIFIED } as const;
const KINDS = { bonus: E.PoolKind.POOL_KIND_BONUS, add_on: E.PoolKind.POOL_KIND_ADD_ON, free_grant: E.PoolKind.POOL_KIND_FREE_GRANT, monthly: E.PoolKind.POOL_KIND_MONTHLY, none: E.PoolKind.POOL_KIND_UNSPECIFIED } as const;

/** Four accounts on two plans: one with an overdraft and thresholds, one with a low-credit limit and no overdraft. */
const ACCOUNTS = 4;
const planOf = (account: number) => (account % 2 === 0 ? "diff-overdraft" : "diff-low-credit");

// ---------------------------------------------------------------- operations

/** A hold of the call's account (most often), of any account, or one that does not exist. */
type HoldRef = { known: number } | { any: number } | { unknown: number };
/** Which of two tasks a call is attributed to (null: none): budgets are set on them. */
type Task = number | null;
type Op =
  | { op: "authorize"; account: number; model: Model; replies: number; ttlMs: number; badKey: boolean; task?: Task }
  | { op: "charge"; account: number; hold: HoldRef | null; model: Model; replies: number; final: boolean; task?: Task }
  | { op: "release"; account: number; hold: HoldRef }
  | { op: "extend"; account: number; hold: HoldRef; model: Model | null; replies: number; ttlMs: number }
  | { op: "grant"; account: number; unit: keyof typeof UNITS; kind: keyof typeof KINDS; amount: number; expiresInMs: number | null; priority: number; reload: boolean; reason: string }
  | { op: "adjust"; account: number; pool: number | null; amount: number; reason: string }
  | { op: "reverse"; account: number; charge: number | null; reason: string }
  | { op: "budget"; account: number; unit: "credits" | "tool_runs"; task: number; limit: number; hard: boolean; perCycle: boolean }
  | { op: "unbudget"; account: number; unit: "credits" | "tool_runs"; task: number; reason: string }
  | { op: "tick"; ms: number }
  | { op: "replay"; index: number }
  | { op: "reuse"; index: number }
  | { op: "burst"; ops: Op[] };

const account = fc.nat(ACCOUNTS - 1);
const model: fc.Arbitrary<Model> = fc.oneof({ arbitrary: fc.constant("credits" as const), weight: 8 }, { arbitrary: fc.constantFrom("tool_runs" as const, "usd" as const), weight: 2 }, { arbitrary: fc.constant("none" as const), weight: 1 });
const holdRef: fc.Arbitrary<HoldRef> = fc.oneof(
  { arbitrary: fc.record({ known: fc.nat(3) }), weight: 12 }, // counted from the account's newest hold
  { arbitrary: fc.record({ any: fc.nat(60) }), weight: 2 },
  { arbitrary: fc.record({ unknown: fc.nat(UNKNOWN_HOLDS.length - 1) }), weight: 1 },
);
const ttl = fc.oneof(
  { arbitrary: fc.constant(LONG_TTL_MS), weight: 5 },
  { arbitrary: fc.integer({ min: 1, max: 2_500 }), weight: 4 },
  { arbitrary: fc.constant(0), weight: 1 }, // the default ttl
  { arbitrary: fc.constantFrom(-5, 86_400_001, 700_000_000), weight: 1 }, // out of range
);
const reason = fc.oneof({ arbitrary: fc.constant("differential"), weight: 9 }, { arbitrary: fc.constant(""), weight: 1 });
const task: fc.Arbitrary<Task> = fc.option(fc.nat(1), { nil: null, freq: 2 });

const simple: fc.Arbitrary<Op>[] = [
  fc.record({ op: fc.constant("authorize" as const), account, model, replies: fc.integer({ min: 0, max: 70 }), ttlMs: ttl, badKey: fc.nat(19).map((n) => n === 0), task }),
  fc.record({ op: fc.constant("charge" as const), account, hold: fc.option(holdRef, { nil: null, freq: 3 }), model, replies: fc.integer({ min: 0, max: 90 }), final: fc.boolean(), task }),
  fc.record({ op: fc.constant("release" as const), account, hold: holdRef }),
  fc.record({
    op: fc.constant("extend" as const), account, hold: holdRef, model: fc.option(model, { nil: null, freq: 4 }), replies: fc.integer({ min: 0, max: 40 }),
    ttlMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 }), fc.constant(LONG_TTL_MS), fc.constant(-1)),
  }),
  fc.record({
    op: fc.constant("grant" as const), account,
    unit: fc.oneof({ arbitrary: fc.constant("credits" as const), weight: 6 }, { arbitrary: fc.constantFrom("tool_runs" as const, "usd" as const), weight: 2 }, { arbitrary: fc.constant("none" as const), weight: 1 }),
    kind: fc.oneof({ arbitrary: fc.constantFrom("bonus" as const, "add_on" as const, "free_grant" as const), weight: 12 }, { arbitrary: fc.constantFrom("monthly" as const, "none" as const), weight: 1 }),
    amount: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 60_000 }), weight: 12 }, { arbitrary: fc.constantFrom(0, -5_000), weight: 1 }),
    expiresInMs: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 6_000 }), weight: 3 }, { arbitrary: fc.constant(-1_000), weight: 1 }),
    priority: fc.integer({ min: 0, max: 2 }), reload: fc.nat(4).map((n) => n === 0), reason,
  }),
  fc.record({ op: fc.constant("adjust" as const), account, pool: fc.option(fc.nat(40), { nil: null, freq: 12 }), amount: fc.integer({ min: -80_000, max: 40_000 }), reason }),
  fc.record({ op: fc.constant("reverse" as const), account, charge: fc.option(fc.nat(60), { nil: null, freq: 12 }), reason }),
  fc.record({
    op: fc.constant("budget" as const), account, unit: fc.constantFrom("credits" as const, "tool_runs" as const), task: fc.nat(1),
    limit: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 80_000 }), weight: 12 }, { arbitrary: fc.constant(-1), weight: 1 }), hard: fc.boolean(), perCycle: fc.boolean(),
  }),
  fc.record({ op: fc.constant("unbudget" as const), account, unit: fc.constantFrom("credits" as const, "tool_runs" as const), task: fc.nat(1), reason }),
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: simple[0]!, weight: 7 },
  { arbitrary: simple[1]!, weight: 9 },
  { arbitrary: simple[2]!, weight: 3 },
  { arbitrary: simple[3]!, weight: 3 },
  { arbitrary: simple[4]!, weight: 4 },
  { arbitrary: simple[5]!, weight: 2 },
  { arbitrary: simple[6]!, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 1_500 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("replay" as const), index: fc.nat(10_000) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("reuse" as const), index: fc.nat(10_000) }), weight: 1 },
  // Calls on different accounts at once: the ledger may decide them in one group-commit batch.
  {
    arbitrary: fc.array(fc.oneof(...simple), { minLength: 2, maxLength: ACCOUNTS })
      .map((ops) => ({ op: "burst" as const, ops: ops.map((o, i) => ({ ...o, account: i }) as Op) })),
    weight: 2,
  },
);

// ---------------------------------------------------------------- the two sides

/** What a call answered, with ids replaced by the order in which they first appeared (the sides name things differently). */
type Answer = { ok: true; value: Record<string, unknown> } | { ok: false; code: number; reason: string; field: string };

/** Ids each side gave out, in order of appearance: `H3` is the fourth hold on either side. */
class Names {
  readonly holds: string[] = [];
  readonly pools: string[] = [];
  readonly entries: string[] = [];
  token(list: string[], prefix: string, id: string): string {
    if (!id || id === "0") return "";
    let index = list.indexOf(id);
    if (index < 0) index = list.push(id) - 1;
    return `${prefix}${index}`;
  }
  hold(id: string | null): string {
    return this.token(this.holds, "H", id ?? "");
  }
  pool(id: string | null): string {
    return this.token(this.pools, "P", id ?? "");
  }
  entry(id: string | bigint): string {
    return this.token(this.entries, "E", String(id));
  }
}

interface Side {
  names: Names;
  /** Charges answered OK with an entry, for reversals: the entry ids in order. */
  charges: string[];
  /** Each account's holds, oldest first. */
  holdsOf: Map<string, string[]>;
  /** Each account's entries that are not charges (grants, adjustments, reversals), for reversals that must be refused. */
  othersOf: Map<string, string[]>;
  /** The answer with the side's own ids (`hold`, `pool`, `entry`); {@link named} replaces them in the order of the sequence. */
  run(accountId: string, op: Exclude<Op, { op: "tick" | "replay" | "reuse" | "burst" }>, key: string): Promise<Answer>;
}

/** An answer with its ids replaced by names (registering new ones), and a charge's entry kept for reversals. */
function named(side: Side, op: Op, accountId: string, answer: Answer): Answer {
  if (!answer.ok) return answer;
  const value = { ...answer.value };
  if (op.op === "authorize" && value.hold && !side.names.holds.includes(String(value.hold))) side.holdsOf.set(accountId, [...(side.holdsOf.get(accountId) ?? []), String(value.hold)]);
  if (op.op === "charge" && value.entry !== "0" && !side.charges.includes(String(value.entry))) side.charges.push(String(value.entry));
  if (op.op !== "charge" && value.entry && value.entry !== "0" && !side.names.entries.includes(String(value.entry))) {
    side.othersOf.set(accountId, [...(side.othersOf.get(accountId) ?? []), String(value.entry)]);
  }
  if ("hold" in value) value.hold = side.names.hold(String(value.hold));
  if ("pool" in value) value.pool = side.names.pool(String(value.pool));
  if ("entry" in value) value.entry = side.names.entry(String(value.entry));
  return { ok: true, value };
}

const ms = (date: Date | undefined) => (date ? date.getTime() : null);
const denial = (reason: string | null) => reason ?? "UNSPECIFIED";

function usage(m: Model, replies: number): pricingV1.Usage {
  return { kind: { $case: "modelReply", modelReply: { model: MODELS[m], replies: String(replies) } } };
}

const taskId = (task: number) => `task-${task}`;
const attributed = (task: Task | undefined) => (task === null || task === undefined ? {} : { attribution: { taskId: taskId(task) } });

/** The proto requests of an op (the memory side decodes them as the handlers do). */
function requests(accountId: string, op: Exclude<Op, { op: "tick" | "replay" | "reuse" | "burst" }>, key: string, side: Side, nowMs: number) {
  const own = side.holdsOf.get(accountId) ?? [];
  const holdId = (ref: HoldRef | null) =>
    ref === null ? ""
    : "known" in ref ? (own[own.length - 1 - (ref.known % Math.max(own.length, 1))] ?? UNKNOWN_HOLDS[0]!)
    : "any" in ref ? (side.names.holds[ref.any % Math.max(side.names.holds.length, 1)] ?? UNKNOWN_HOLDS[0]!)
    : UNKNOWN_HOLDS[ref.unknown]!;
  switch (op.op) {
    case "authorize":
      return L.AuthorizeRequest.fromPartial({ accountId, estimate: usage(op.model, op.replies), idempotencyKey: op.badKey ? "" : key, ttlMs: String(op.ttlMs), ...attributed(op.task) });
    case "charge":
      return L.ChargeRequest.fromPartial({ accountId, holdId: holdId(op.hold), usage: usage(op.model, op.replies), final: op.final, idempotencyKey: key, ...attributed(op.task) });
    case "budget":
      return L.SetBudgetRequest.fromPartial({
        accountId, unit: UNITS[op.unit], scope: L.BudgetScope.BUDGET_SCOPE_TASK, scopeId: taskId(op.task), limitMicros: String(op.limit),
        mode: op.hard ? L.BudgetMode.BUDGET_MODE_HARD : L.BudgetMode.BUDGET_MODE_SOFT, perCycle: op.perCycle, reason: "differential", actor: "differential", idempotencyKey: key,
      });
    case "unbudget":
      return L.DeleteBudgetRequest.fromPartial({ accountId, budgetId: `${op.unit}/task/${taskId(op.task)}`, reason: op.reason, actor: "differential", idempotencyKey: key });
    case "release":
      return L.ReleaseRequest.fromPartial({ accountId, holdId: holdId(op.hold), idempotencyKey: key });
    case "extend":
      return L.ExtendHoldRequest.fromPartial({ accountId, holdId: holdId(op.hold), ...(op.model ? { estimate: usage(op.model, op.replies) } : {}), ttlMs: String(op.ttlMs), idempotencyKey: key });
    case "grant":
      return L.GrantRequest.fromPartial({
        accountId, poolKind: KINDS[op.kind], unit: UNITS[op.unit], amountMicros: String(op.amount), priority: op.priority,
        ...(op.expiresInMs === null ? {} : { expiresAt: new Date(nowMs + op.expiresInMs) }),
        reason: op.reason, actor: "differential", idempotencyKey: key,
        ...(op.reload ? { reloadBelowMicros: "5000", reloadToMicros: "20000", reloadCooldownMs: "1000" } : {}),
      });
    case "adjust":
      return L.AdjustRequest.fromPartial({
        accountId, poolId: op.pool === null ? UNKNOWN_POOL : (side.names.pools[op.pool % Math.max(side.names.pools.length, 1)] ?? UNKNOWN_POOL),
        amountMicros: String(op.amount), reason: op.reason, actor: "differential", idempotencyKey: key,
      });
    case "reverse":
      return L.ReverseChargeRequest.fromPartial({
        // Mostly a charge; one in four another entry of the account (a grant, an adjustment, a reversal: refused as NOT_A_CHARGE).
        accountId, entryId: op.charge === null ? "999999999" : (pick(op.charge % 4 === 3 ? (side.othersOf.get(accountId) ?? []) : side.charges, op.charge) ?? "999999999"),
        reason: op.reason, actor: "differential", idempotencyKey: key,
      });
  }
}

/** The i-th of a list, wrapping around (undefined when it is empty). */
function pick(list: readonly string[], i: number): string | undefined {
  return list[i % Math.max(list.length, 1)];
}

function refusal(error: unknown): Answer {
  const details = errorDetails(error);
  if (typeof details.code !== "number") throw error;
  return { ok: false, code: details.code, reason: details.reason ?? "", field: details.fieldViolations[0]?.field ?? "" };
}

type Call = Exclude<Op, { op: "tick" | "replay" | "reuse" | "burst" }>;

/** A side that answers an op's requests (built from its own names) with `answer`. */
function newSide(clock: Clock, answer: (accountId: string, op: Call, request: ReturnType<typeof requests>, names: Names) => Promise<Answer>): Side {
  const side: Side = {
    names: new Names(),
    charges: [],
    holdsOf: new Map(),
    othersOf: new Map(),
    run: (accountId, op, key) => answer(accountId, op, requests(accountId, op, key, side, clock.nowMs), side.names),
  };
  return side;
}

/** The running ledger, over gRPC. */
function ledgerSide(platform: Platform, clock: Clock): Side {
  const { ledger } = platform.clients;
  return newSide(clock, async (_accountId, op, request) => {
    try {
      switch (op.op) {
        case "authorize": {
          const r = await call(ledger, ledger.authorize, request as ledgerV1.AuthorizeRequest);
          return { ok: true, value: { allowed: r.allowed, reason: L.denialReasonToJSON(r.reason).replace("DENIAL_REASON_", ""), hold: r.holdId ?? "", amount: r.amountMicros, available: r.availableMicros, expiresAtMs: ms(r.expiresAt), metered: r.metered, message: r.message, rateTable: `${r.rateTableId}@${r.rateTableVersion}` } };
        }
        case "charge": {
          const r = await call(ledger, ledger.charge, request as ledgerV1.ChargeRequest);
          return { ok: true, value: { charged: r.chargedMicros, uncollected: r.uncollectedMicros, balance: r.balanceMicros, proceed: r.proceed, released: r.releasedMicros, entry: String(r.entryId) } };
        }
        case "release": {
          const r = await call(ledger, ledger.release, request as ledgerV1.ReleaseRequest);
          return { ok: true, value: { released: r.releasedMicros, status: L.holdStatusToJSON(r.status).replace("HOLD_STATUS_", "").toLowerCase() } };
        }
        case "extend": {
          const r = await call(ledger, ledger.extendHold, request as ledgerV1.ExtendHoldRequest);
          return { ok: true, value: { allowed: r.allowed, reason: L.denialReasonToJSON(r.reason).replace("DENIAL_REASON_", ""), message: r.message, amount: r.amountMicros, expiresAtMs: ms(r.expiresAt), available: r.availableMicros } };
        }
        case "grant": {
          const r = await call(ledger, ledger.grant, request as ledgerV1.GrantRequest);
          return { ok: true, value: { pool: r.poolId, entry: String(r.entryId), balance: r.balanceMicros } };
        }
        case "adjust": {
          const r = await call(ledger, ledger.adjust, request as ledgerV1.AdjustRequest);
          return { ok: true, value: { entry: String(r.entryId), balance: r.balanceMicros } };
        }
        case "reverse": {
          const r = await call(ledger, ledger.reverseCharge, request as ledgerV1.ReverseChargeRequest);
          return { ok: true, value: { entry: String(r.entryId), returned: r.returnedMicros, balance: r.balanceMicros } };
        }
        case "budget": {
          const b = (await call(ledger, ledger.setBudget, request as ledgerV1.SetBudgetRequest)).budget!;
          return { ok: true, value: budgetOnWire(b) };
        }
        case "unbudget": {
          const b = (await call(ledger, ledger.deleteBudget, request as ledgerV1.DeleteBudgetRequest)).budget!;
          return { ok: true, value: budgetOnWire(b) };
        }
      }
    } catch (error) {
      return refusal(error);
    }
  });
}

const MESSAGES = {
  authorize: "AuthorizeRequest", charge: "ChargeRequest", release: "ReleaseRequest", extend: "ExtendHoldRequest", grant: "GrantRequest", adjust: "AdjustRequest", reverse: "ReverseChargeRequest",
  budget: "SetBudgetRequest", unbudget: "DeleteBudgetRequest",
} as const;

/** A budget as both sides compare it (an answer of SetBudget or DeleteBudget, and the final state). */
const budgetOnWire = (b: ledgerV1.Budget) =>
  ({ budget: b.budgetId, limit: b.limitMicros, hard: b.mode === L.BudgetMode.BUDGET_MODE_HARD, used: b.usedMicros, reserved: b.reservedMicros, thresholds: b.thresholdPercents.join(",") });
const budgetInMemory = (b: BudgetAnswer) =>
  ({ budget: b.budgetId, limit: String(b.limitMicros), hard: b.mode === "hard", used: String(b.usedMicros), reserved: String(b.reservedMicros), thresholds: b.thresholdPercents.join(",") });

/** The use cases over the in-memory store: the state machine alone. Requests are decoded as the handlers decode them. */
function memorySide(deps: LedgerDeps, clock: Clock): Side {
  return newSide(clock, async (accountId, op, request, n) => {
    const actor = { actor: TEST_PRINCIPAL, onBehalfOf: undefined };
    try {
      // The request's bounds first, as the ledger's edge checks them (request-rules.ts).
      // (This store names holds and pools `hold-1`, `pool-2`; the ledger names them by UUID, which the bounds require.)
      const asTheLedgerNamesThem = { ...request, ...("holdId" in request && n.holds.includes(request.holdId) ? { holdId: SOME_UUID } : {}), ...("poolId" in request && n.pools.includes(request.poolId) ? { poolId: SOME_UUID } : {}) };
      validateMessage(descriptors().getMessage(`tollgate.ledger.v1.${MESSAGES[op.op]}`)!, asTheLedgerNamesThem as never, "");
      switch (op.op) {
        case "authorize": {
          const q = request as ledgerV1.AuthorizeRequest;
          const r = await authorize(deps, {
            accountId, estimate: usageFromProto(q.estimate, "estimate"), attribution: attributionFromProto(q.attribution), idempotencyKey: q.idempotencyKey,
            ttlMs: Number(int64(q.ttlMs, "ttl_ms")), context: runContextFromProto(q.context),
          });
          return { ok: true, value: { allowed: r.allowed, reason: denial(r.reason), hold: r.holdId ?? "", amount: String(r.amountMicros), available: String(r.availableMicros), expiresAtMs: r.expiresAtMs, metered: r.metered, message: r.message, rateTable: `${r.rateTableId}@${r.rateTableVersion}` } };
        }
        case "charge": {
          const q = request as ledgerV1.ChargeRequest;
          const r = await charge(deps, {
            accountId, holdId: q.holdId || null, usage: usageFromProto(q.usage, "usage"), final: q.final, idempotencyKey: q.idempotencyKey,
            attribution: attributionFromProto(q.attribution), context: runContextFromProto(q.context), traceparent: "", traceId: "", ...actor,
          });
          return { ok: true, value: { charged: String(r.chargedMicros), uncollected: String(r.uncollectedMicros), balance: String(r.balanceMicros), proceed: r.proceed, released: String(r.releasedMicros), entry: String(r.entryId) } };
        }
        case "release": {
          const q = request as ledgerV1.ReleaseRequest;
          const r = await release(deps, { accountId, holdId: q.holdId, idempotencyKey: q.idempotencyKey });
          return { ok: true, value: { released: String(r.releasedMicros), status: r.status } };
        }
        case "extend": {
          const q = request as ledgerV1.ExtendHoldRequest;
          const r = await extendHold(deps, { accountId, holdId: q.holdId, estimate: q.estimate ? usageFromProto(q.estimate, "estimate") : null, ttlMs: Number(int64(q.ttlMs, "ttl_ms")), idempotencyKey: q.idempotencyKey });
          return { ok: true, value: { allowed: r.allowed, reason: denial(r.reason), message: r.message, amount: String(r.amountMicros), expiresAtMs: r.expiresAtMs, available: String(r.availableMicros) } };
        }
        case "grant": {
          const q = request as ledgerV1.GrantRequest;
          const reloadTo = int64(q.reloadToMicros, "reload_to_micros");
          const r = await grant(deps, {
            accountId, poolKind: poolKindFromProto(q.poolKind), unit: unitFromProto(q.unit, "unit"), amountMicros: int64(q.amountMicros, "amount_micros"),
            ...(q.expiresAt ? { expiresAt: q.expiresAt } : {}), priority: q.priority, reason: q.reason, ...actor, idempotencyKey: q.idempotencyKey, traceId: "",
            ...(reloadTo > 0n ? { reload: { belowMicros: int64(q.reloadBelowMicros, "reload_below_micros"), toMicros: reloadTo, cooldownMs: Number(int64(q.reloadCooldownMs, "reload_cooldown_ms")) } } : {}),
          });
          return { ok: true, value: { pool: r.poolId, entry: String(r.entryId), balance: String(r.balanceMicros) } };
        }
        case "adjust": {
          const q = request as ledgerV1.AdjustRequest;
          const r = await adjust(deps, { accountId, poolId: q.poolId, amountMicros: int64(q.amountMicros, "amount_micros"), reason: q.reason, ...actor, idempotencyKey: q.idempotencyKey, traceId: "" });
          return { ok: true, value: { entry: String(r.entryId), balance: String(r.balanceMicros) } };
        }
        case "reverse": {
          const q = request as ledgerV1.ReverseChargeRequest;
          const r = await reverse(deps, { accountId, entryId: int64(q.entryId, "entry_id"), reason: q.reason, ...actor, idempotencyKey: q.idempotencyKey, traceId: "" });
          return { ok: true, value: { entry: String(r.entryId), returned: String(r.returnedMicros), balance: String(r.balanceMicros) } };
        }
        case "budget": {
          const q = request as ledgerV1.SetBudgetRequest;
          const b = await setBudget(deps, {
            accountId, unit: unitFromProto(q.unit, "unit"), scope: budgetScopeFromProto(q.scope), scopeId: q.scopeId, limitMicros: int64(q.limitMicros, "limit_micros"),
            mode: budgetModeFromProto(q.mode), perCycle: q.perCycle, thresholdPercents: q.thresholdPercents, reason: q.reason, ...actor, idempotencyKey: q.idempotencyKey,
          });
          return { ok: true, value: budgetInMemory(b) };
        }
        case "unbudget": {
          const q = request as ledgerV1.DeleteBudgetRequest;
          return { ok: true, value: budgetInMemory(await deleteBudget(deps, { accountId, budgetId: q.budgetId, reason: q.reason, ...actor, idempotencyKey: q.idempotencyKey })) };
        }
      }
    } catch (error) {
      // The error as the ledger's one mapper would put it on the wire.
      return refusal(toServiceError(error) as ServiceError);
    }
  });
}

// ---------------------------------------------------------------- the comparison

interface Clock {
  nowMs: number;
}

let db: TestDatabase;
let platform: Platform;
/** Both sides' time: ahead of the real time (see the top of the file), moved only by the sequence. */
const clock: Clock = { nowMs: Date.now() + 60 * 60_000 };
let accounts: AccountCache;
let rates: RateCache;
let runs = 0;
let pricing: pricingV1.PricingServiceClient;
let entitlements: entitlementsV1.EntitlementsServiceClient;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { now: () => new Date(clock.nowMs), meterIntervalMs: 0 });
  const { pricing: p, entitlements: e } = platform.clients;
  const rate = (m: Model, unit: commonV1.Unit, bucket: commonV1.Bucket) => ({ bucket, unit, kind: { $case: "modelReply" as const, modelReply: { model: MODELS[m], microsPerReply: String(MICROS_PER_REPLY) } } });
  await call(p, p.publishRateTable, {
    tableId: "diff", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "seed", idempotencyKey: "",
    rates: [rate("credits", C.Unit.UNIT_CREDITS, C.Bucket.BUCKET_AI), rate("tool_runs", C.Unit.UNIT_TOOL_RUNS, C.Bucket.BUCKET_TOOL_RUNS), rate("usd", C.Unit.UNIT_USD, C.Bucket.BUCKET_AI)],
  });
  const plan = (planId: string, fields: Parameters<typeof E.Plan.fromPartial>[0]) =>
    call(e, e.publishPlan, { plan: E.Plan.fromPartial({ planId, name: planId, rateTableId: "diff", ...fields }), actor: "test", reason: "seed" });
  await plan("diff-overdraft", {
    allotments: [{ unit: C.Unit.UNIT_CREDITS, amountMicros: "100000", buckets: [] }, { unit: C.Unit.UNIT_TOOL_RUNS, amountMicros: "20000", buckets: [] }],
    limits: [{ unit: C.Unit.UNIT_CREDITS, negativeLimitMicros: "25000", lowCreditLimitMicros: "0" }, { unit: C.Unit.UNIT_TOOL_RUNS, negativeLimitMicros: "3000", lowCreditLimitMicros: "0" }],
    drawdownOrder: [E.PoolKind.POOL_KIND_ADD_ON, E.PoolKind.POOL_KIND_BONUS],
    thresholds: E.NotificationThresholds.fromPartial({ bannerPercents: [50, 80, 100] }),
  });
  await plan("diff-low-credit", {
    allotments: [{ unit: C.Unit.UNIT_CREDITS, amountMicros: "50000", buckets: [] }],
    limits: [{ unit: C.Unit.UNIT_CREDITS, negativeLimitMicros: "0", lowCreditLimitMicros: "10000" }],
    drawdownOrder: [E.PoolKind.POOL_KIND_FREE_GRANT, E.PoolKind.POOL_KIND_BONUS, E.PoolKind.POOL_KIND_ADD_ON],
  });
  // The memory side reads accounts and rate tables the way the ledger does (same caches, same contracts).
  const credentials = { credentials: platform.issuer!.credential(TEST_PRINCIPAL, ROLES) };
  pricing = createClient(pricingV1.PricingServiceClient, platform.pricing.address, credentials);
  entitlements = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, credentials);
  accounts = new AccountCache(entitlements);
  rates = new RateCache(pricing);
});

afterAll(async () => {
  accounts?.stop();
  rates?.stop();
  pricing?.close();
  entitlements?.close();
  await platform?.stop();
  await db?.drop();
});

/** What the sequences exercised, across runs: the test checks that they reached every path it claims to compare. */
const seen = new Map<string, number>();
function tally(op: Op, answer: Answer): void {
  const add = (what: string) => void seen.set(what, (seen.get(what) ?? 0) + 1);
  if (!answer.ok) return add(`${op.op}: ${answer.reason}`);
  const v = answer.value;
  add(`${op.op}: ok`);
  if (v.reason && v.reason !== "UNSPECIFIED") add(`${op.op}: ${String(v.reason)}`);
  if (op.op === "charge" && op.hold && BigInt(String(v.charged)) > 0n && v.released === "0") add("charge: above its hold");
  if (op.op === "charge" && v.uncollected !== "0") add("charge: uncollected");
  if (op.op === "charge" && v.proceed === false) add("charge: stop");
  if (op.op === "release") add(`release: ${String(v.status)}`);
}

interface Step {
  index: number;
  op: Op;
  key: string;
  accountId: string;
}

/** Runs one sequence on both sides; returns a description of the first difference, or null. */
async function runSequence(ops: Op[]): Promise<string | null> {
  const run = runs++;
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `diff-${run}-${i}`);
  for (const [i, accountId] of ids.entries()) {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, E.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId: planOf(i), seats: 1 }));
  }
  const store = new MemoryLedgerStore();
  const deps: LedgerDeps = { store, accounts, rates, now: () => new Date(clock.nowMs) };
  const server = ledgerSide(platform, clock);
  const memory = memorySide(deps, clock);
  // Both sides open the cycles (GetBalance opens it on the ledger), so the monthly pools have names before the first Adjust.
  for (const accountId of ids) {
    const balance = await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId });
    await rollOver(deps, accountId, null);
    const mine = [...(await store.account(accountId))!.pools.values()].sort((a, b) => a.unit.localeCompare(b.unit));
    const theirs = [...balance.pools].sort((a, b) => unitName(a.unit).localeCompare(unitName(b.unit)));
    if (mine.length !== theirs.length) return `${accountId}: the cycle opened ${theirs.length} pools on the ledger, ${mine.length} in memory`;
    mine.forEach((p) => memory.names.pool(p.poolId));
    theirs.forEach((p) => server.names.pool(p.poolId));
  }

  const steps: Step[] = [];
  const log: string[] = [];
  const differ = (what: string, ledger: unknown, mem: unknown) =>
    `${what}\n  ledger: ${JSON.stringify(ledger)}\n  memory: ${JSON.stringify(mem)}\n  after:\n${log.slice(-12).join("\n")}`;

  let counter = 0;
  const stepOf = (op: Op, key?: string): Step => {
    const index = counter++;
    const accountId = "account" in op ? ids[op.account]! : ids[0]!;
    return { index, op, key: key ?? `${accountId}-k${index}`, accountId };
  };
  const compare = async (batch: Step[]): Promise<string | null> => {
    // The ledger answers the batch's calls concurrently (different accounts); the memory side runs them in order.
    const answered = await Promise.all(batch.map((s) => server.run(s.accountId, s.op as never, s.key)));
    const theirs = batch.map((s, i) => named(server, s.op, s.accountId, answered[i]!));
    const raw: Answer[] = [];
    for (const s of batch) raw.push(await memory.run(s.accountId, s.op as never, s.key));
    const mine = batch.map((s, i) => named(memory, s.op, s.accountId, raw[i]!));
    for (const [i, s] of batch.entries()) {
      log.push(`  #${s.index} ${JSON.stringify(s.op)} key=${s.key} → ${JSON.stringify(theirs[i])}`);
      if (JSON.stringify(theirs[i]) !== JSON.stringify(mine[i])) return differ(`#${s.index} ${JSON.stringify(s.op)} (key ${s.key}) answered differently`, theirs[i], mine[i]);
      tally(s.op, theirs[i]!);
    }
    return null;
  };

  for (const op of ops) {
    let difference: string | null = null;
    switch (op.op) {
      case "tick":
        clock.nowMs += op.ms;
        log.push(`  tick ${op.ms} ms`);
        break;
      case "replay": {
        const earlier = steps[op.index % Math.max(steps.length, 1)];
        if (earlier) difference = await compare([{ ...earlier, index: counter++ }]);
        break;
      }
      case "reuse": {
        const earlier = steps[op.index % Math.max(steps.length, 1)];
        if (earlier && earlier.op.op !== "burst") difference = await compare([{ ...earlier, index: counter++, op: changed(earlier.op) }]);
        break;
      }
      case "burst": {
        const batch = op.ops.map((o) => stepOf(o));
        steps.push(...batch);
        difference = await compare(batch);
        break;
      }
      default: {
        const step = stepOf(op);
        steps.push(step);
        difference = await compare([step]);
      }
    }
    if (difference) return difference;
  }

  // Every account written once more (expired holds and pools are returned on a write), then compared whole.
  const last = ids.map((_, account) => stepOf({ op: "grant", account, unit: "credits", kind: "bonus", amount: 1, expiresInMs: null, priority: 0, reload: false, reason: "final" }));
  const difference = await compare(last);
  if (difference) return difference;
  for (const accountId of ids) {
    const [theirs, mine] = [await ledgerState(accountId, server.names), await memoryState(store, accountId, memory.names)];
    for (const part of ["pools", "holds", "entries", "units", "budgets"] as const) {
      if (JSON.stringify(theirs[part]) !== JSON.stringify(mine[part])) return differ(`${accountId}: the ${part} differ at the end (pools: ${JSON.stringify(theirs.pools)})`, theirs[part], mine[part]);
    }
  }
  return null;
}

/** The same key with another request: a different amount (or hold) than the first time. */
function changed(op: Op): Op {
  switch (op.op) {
    case "authorize":
    case "charge":
    case "extend":
      return { ...op, replies: op.replies + 1 };
    case "grant":
    case "adjust":
      return { ...op, amount: op.amount + 1 };
    case "release":
      return { ...op, hold: "known" in op.hold ? { known: op.hold.known + 1 } : { known: 0 } };
    case "reverse":
      return { ...op, charge: (op.charge ?? 0) + 1 };
    case "budget":
      return { ...op, limit: op.limit + 1 };
    case "unbudget":
      return { ...op, task: 1 - op.task };
    default:
      return op;
  }
}

const unitName = (unit: commonV1.Unit) => C.unitToJSON(unit).replace("UNIT_", "").toLowerCase();
const kindName = (kind: entitlementsV1.PoolKind) => E.poolKindToJSON(kind).replace("POOL_KIND_", "").toLowerCase();
const byText = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

interface Final {
  units: unknown[];
  pools: unknown[];
  holds: unknown[];
  entries: unknown[];
  budgets: unknown[];
}

async function ledgerState(accountId: string, names: Names): Promise<Final> {
  const { ledger } = platform.clients;
  const balance = await call(ledger, ledger.getBalance, { accountId });
  const holds: ledgerV1.Hold[] = [];
  for (let token = ""; ;) {
    const page = await call(ledger, ledger.listHolds, L.ListHoldsRequest.fromPartial({ accountId, page: { pageSize: 500, pageToken: token } }));
    holds.push(...page.holds);
    if (!(token = page.nextPageToken)) break;
  }
  const entries: ledgerV1.Entry[] = [];
  for (let token = ""; ;) {
    const page = await call(ledger, ledger.listEntries, L.ListEntriesRequest.fromPartial({ accountId, page: { pageSize: 500, pageToken: token } }));
    entries.push(...page.entries);
    if (!(token = page.nextPageToken)) break;
  }
  entries.sort((a, b) => Number(BigInt(a.entryId) - BigInt(b.entryId)));
  const order = entries.map((e) => e.entryId);
  return {
    budgets: balance.budgets.map(budgetOnWire).sort(byText),
    units: balance.units.map((u) => ({ unit: unitName(u.unit), balance: u.balanceMicros, held: u.heldMicros, available: u.availableMicros })).sort(byText),
    pools: balance.pools.map((p) => ({ pool: names.pool(p.poolId), kind: kindName(p.kind), unit: unitName(p.unit), balance: p.balanceMicros, granted: p.grantedMicros, priority: p.priority, expiresAtMs: ms(p.expiresAt), closed: p.closed, reload: `${p.reloadBelowMicros}/${p.reloadToMicros}` })).sort(byText),
    holds: holds.map((h) => ({ hold: names.hold(h.holdId), unit: unitName(h.unit), amount: h.amountMicros, charged: h.chargedMicros, status: L.holdStatusToJSON(h.status).replace("HOLD_STATUS_", "").toLowerCase(), expiresAtMs: ms(h.expiresAt), createdAtMs: ms(h.createdAt) })).sort(byText),
    entries: entries.map((e) => ({
      n: order.indexOf(e.entryId), kind: L.entryKindToJSON(e.kind).replace("ENTRY_KIND_", "").toLowerCase(), unit: unitName(e.unit), hold: names.hold(e.holdId || null), amount: e.amountMicros, uncollected: e.uncollectedMicros,
      reason: e.reason, actor: e.actor, atMs: ms(e.createdAt), reverses: order.indexOf(e.reversesEntryId),
      lines: e.lines.map((l) => ({ account: l.poolId ? `pool:${names.pool(l.poolId)}` : l.ledgerAccount, amount: l.amountMicros })).sort(byText),
    })),
  };
}

async function memoryState(store: MemoryLedgerStore, accountId: string, names: Names): Promise<Final> {
  const account = (await store.account(accountId))!;
  const live = [...account.pools.values()].filter((p) => !p.closed && (p.expiresAtMs === null || p.expiresAtMs > clock.nowMs));
  const entries = (await store.entries(accountId)).sort((a, b) => Number(a.entryId - b.entryId));
  const order = entries.map((e) => String(e.entryId));
  return {
    budgets: [...account.budgets.values()].map((b) => budgetInMemory(budgetAnswer(account, b))).sort(byText),
    units: [...account.units.values()].map((u) => {
      const balance = live.filter((p) => p.unit === u.unit).reduce((sum, p) => sum + p.balanceMicros, 0n);
      return { unit: u.unit, balance: String(balance), held: String(u.heldMicros), available: String(balance - u.heldMicros) };
    }).sort(byText),
    // GetBalance shows the pools that are not closed (a closed pool's story is in the journal).
    pools: [...account.pools.values()].filter((p) => !p.closed).map((p) => ({ pool: names.pool(p.poolId), kind: p.kind, unit: p.unit, balance: String(p.balanceMicros), granted: String(p.grantedMicros), priority: p.priority, expiresAtMs: p.expiresAtMs, closed: p.closed, reload: `${p.reload?.belowMicros ?? 0n}/${p.reload?.toMicros ?? 0n}` })).sort(byText),
    holds: [...account.holds.values()].map((h) => ({ hold: names.hold(h.holdId), unit: h.unit, amount: String(h.amountMicros), charged: String(h.chargedMicros), status: h.status, expiresAtMs: h.expiresAtMs, createdAtMs: h.createdAtMs })).sort(byText),
    entries: entries.map((e) => ({
      n: order.indexOf(String(e.entryId)), kind: e.kind, unit: e.unit, hold: names.hold(e.holdId), amount: String(e.amountMicros), uncollected: String(e.uncollectedMicros),
      reason: e.reason, actor: e.actor, atMs: e.atMs, reverses: e.reversesEntryId === undefined ? -1 : order.indexOf(String(e.reversesEntryId)),
      lines: e.lines.map((l) => ({ account: l.poolId ? `pool:${names.pool(l.poolId)}` : l.ledgerAccount, amount: String(l.amountMicros) })).sort(byText),
    })),
  };
}

it("answers every call as the state machine does, and ends in the same balances, pools, holds, journal and budgets", async () => {
  const differences: string[] = [];
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: OPS_PER_RUN, maxLength: OPS_PER_RUN }), async (ops) => {
        const difference = await runSequence(ops);
        if (difference) differences.push(difference);
        return difference === null;
      }),
      // Each run starts fresh accounts on the same ledger; shrinking is off (a run takes seconds), the first difference is reported with what led to it.
      {
        seed: SEED, numRuns: RUNS + 1, endOnFailure: true, // the example below, then RUNS random sequences
        examples: [[[
          // Found by this test: a Grant made a second `monthly` pool that was never expired but stopped counting at its expiry (credits gone with no entry).
          { op: "grant", account: 0, unit: "credits", kind: "monthly", amount: 12, expiresInMs: 500, priority: 0, reload: false, reason: "differential" },
          { op: "grant", account: 1, unit: "credits", kind: "bonus", amount: 12, expiresInMs: 500, priority: 0, reload: false, reason: "differential" },
          { op: "authorize", account: 1, model: "credits", replies: 3, ttlMs: 300, badKey: false },
          { op: "tick", ms: 1_000 },
          { op: "charge", account: 1, hold: { known: 0 }, model: "credits", replies: 5, final: true },
          // Every kind of call once, so the paths checked below are reached whatever the seed.
          { op: "authorize", account: 2, model: "credits", replies: 2, ttlMs: LONG_TTL_MS, badKey: false },
          { op: "extend", account: 2, hold: { known: 0 }, model: "credits", replies: 3, ttlMs: LONG_TTL_MS },
          { op: "authorize", account: 2, model: "credits", replies: 1, ttlMs: 200, badKey: false },
          { op: "tick", ms: 300 },
          { op: "release", account: 2, hold: { known: 0 } },
          { op: "release", account: 2, hold: { known: 1 } },
          { op: "reuse", index: 2 }, // the authorize above, asked again with its key and another estimate
          { op: "adjust", account: 0, pool: 0, amount: 5, reason: "differential" },
          { op: "adjust", account: 0, pool: 0, amount: -1_000_000, reason: "differential" },
          { op: "reverse", account: 1, charge: 0, reason: "differential" },
          { op: "reverse", account: 1, charge: null, reason: "differential" },
          { op: "reverse", account: 0, charge: 3, reason: "differential" }, // the adjustment above: not a charge
          // A hard budget on a task: a call of the task past it is denied, one of the other task is not.
          { op: "budget", account: 2, unit: "credits", task: 0, limit: 3_000, hard: true, perCycle: false },
          { op: "authorize", account: 2, model: "credits", replies: 2, ttlMs: LONG_TTL_MS, badKey: false, task: 0 },
          { op: "authorize", account: 2, model: "credits", replies: 2, ttlMs: LONG_TTL_MS, badKey: false, task: 0 },
          { op: "charge", account: 2, hold: null, model: "credits", replies: 5, final: true, task: 0 },
          { op: "authorize", account: 2, model: "credits", replies: 2, ttlMs: LONG_TTL_MS, badKey: false, task: 1 },
          { op: "budget", account: 2, unit: "credits", task: 0, limit: 8_000, hard: false, perCycle: true },
          { op: "budget", account: 3, unit: "credits", task: 1, limit: -1, hard: true, perCycle: false },
          // Removed: the task's next call is not denied; a second removal is NOT_FOUND; a budget left in place is compared at the end.
          { op: "unbudget", account: 2, unit: "credits", task: 0, reason: "differential" },
          { op: "authorize", account: 2, model: "credits", replies: 2, ttlMs: LONG_TTL_MS, badKey: false, task: 0 },
          { op: "unbudget", account: 2, unit: "credits", task: 0, reason: "differential" },
          { op: "unbudget", account: 2, unit: "credits", task: 1, reason: "" },
          { op: "budget", account: 1, unit: "credits", task: 1, limit: 9_000, hard: true, perCycle: false },
          { op: "charge", account: 1, hold: null, model: "credits", replies: 1, final: true, task: 1 },
        ]]],
      },
    );
  } catch (error) {
    throw new Error(`differential test failed with DIFF_SEED=${SEED}\n${differences[0] ?? String(error)}`);
  }
  expect(differences).toEqual([]);
  const reached = [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([what, n]) => `${what} ×${n}`);
  for (const path of [
    "authorize: ok", "authorize: INSUFFICIENT_CREDITS", "authorize: INVALID_FIELD", "charge: ok", "charge: uncollected", "charge: stop", "charge: HOLD_CLOSED",
    "charge: HOLD_NOT_FOUND", "charge: MODEL_NOT_FOUND", "release: released", "release: expired", "extend: ok", "grant: ok", "grant: INVALID_FIELD",
    "adjust: ok", "adjust: ADJUSTMENT_BELOW_LIMIT", "adjust: POOL_NOT_FOUND", "reverse: ok", "reverse: ENTRY_NOT_FOUND", "reverse: NOT_A_CHARGE", "authorize: IDEMPOTENCY_KEY_REUSED",
    "budget: ok", "budget: INVALID_FIELD", "authorize: BUDGET_EXCEEDED", "unbudget: ok", "unbudget: BUDGET_NOT_FOUND", "unbudget: INVALID_FIELD",
  ]) {
    expect(seen.get(path) ?? 0, `${path} (reached: ${reached.join(", ")})`).toBeGreaterThan(0);
  }
}, 180_000);
