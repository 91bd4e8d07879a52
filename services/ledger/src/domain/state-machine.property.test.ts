/**
 * Property tests of the state machine alone (no database): random sequences
 * of Authorize, Charge, Release, Grant, Adjust, metering, rollover, expiry,
 * replays, reused keys, bad commands and batches, 100,000 operations per run
 * in all, with the ledger's invariants checked after every operation.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unitTotals } from "./balance.js";
import type { Command, Result } from "./commands.js";
import { Machine } from "./fixtures.js";
import { expireHolds, remaining } from "./rules/holds.js";
import { expirePools } from "./rules/pool-expiry.js";
import { execute } from "./state-machine.js";
import type { AccountState, LedgerState } from "./state.js";
import { applyWrites, cloneAccount, type Write } from "./writes.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1_000);
const OPS_PER_RUN = 100; // 1,000 × 100 = 100,000 operations
const NEGATIVE_LIMIT = 25n;

type Op =
  | { op: "authorize"; amount: number; ttl: number }
  | { op: "charge"; hold: number | null; amount: number; final: boolean }
  | { op: "release"; hold: number }
  | { op: "reverse"; charge: number }
  | { op: "extend"; hold: number; amount: number; ttl: number }
  | { op: "grant"; kind: "bonus" | "add_on" | "free_grant"; amount: number; expiresIn: number | null; priority: number; reload: boolean }
  | { op: "adjust"; pool: number; amount: number }
  | { op: "tick"; ms: number }
  | { op: "nextCycle" }
  | { op: "startRun" }
  | { op: "meter"; work: number; amount: number }
  | { op: "expire"; what: "expireHolds" | "expirePools" }
  | { op: "replay"; index: number }
  | { op: "reuse"; index: number }
  | { op: "bad"; which: number }
  | { op: "batch"; ops: Op[] };

const simple: fc.Arbitrary<Op>[] = [
  fc.record({ op: fc.constant("authorize" as const), amount: fc.integer({ min: 0, max: 60 }), ttl: fc.integer({ min: 1, max: 3_000 }) }),
  fc.record({ op: fc.constant("charge" as const), hold: fc.option(fc.nat(30), { nil: null }), amount: fc.integer({ min: 0, max: 80 }), final: fc.boolean() }),
  fc.record({ op: fc.constant("release" as const), hold: fc.nat(30) }),
  fc.record({ op: fc.constant("extend" as const), hold: fc.nat(30), amount: fc.integer({ min: 0, max: 30 }), ttl: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({
    op: fc.constant("grant" as const), kind: fc.constantFrom("bonus" as const, "add_on" as const, "free_grant" as const), amount: fc.integer({ min: 1, max: 50 }),
    expiresIn: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: null }), priority: fc.integer({ min: 0, max: 2 }), reload: fc.boolean(),
  }),
  fc.record({ op: fc.constant("adjust" as const), pool: fc.nat(20), amount: fc.integer({ min: -40, max: 40 }).filter((n) => n !== 0) }),
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: simple[0]!, weight: 6 },
  { arbitrary: simple[1]!, weight: 8 },
  { arbitrary: simple[2]!, weight: 3 },
  { arbitrary: simple[3]!, weight: 2 },
  { arbitrary: simple[4]!, weight: 3 },
  { arbitrary: simple[5]!, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 2_000 }) }), weight: 4 },
  { arbitrary: fc.constant({ op: "nextCycle" as const }), weight: 1 },
  { arbitrary: fc.constant({ op: "startRun" as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("meter" as const), work: fc.nat(5), amount: fc.integer({ min: 0, max: 30 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("reverse" as const), charge: fc.nat(40) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("expire" as const), what: fc.constantFrom("expireHolds" as const, "expirePools" as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("replay" as const), index: fc.nat(1_000) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("reuse" as const), index: fc.nat(1_000) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("bad" as const), which: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("batch" as const), ops: fc.array(fc.oneof(...simple), { minLength: 2, maxLength: 4 }) }), weight: 2 },
);

/** A cheap assertion for the hot loop (expect() per operation would dominate the run time). */
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

const KEYED = new Set(["authorize", "charge", "release", "extendHold", "grant", "adjust", "reverse", "startWork"]);
const keyOf = (c: Command): string | null => ("idempotencyKey" in c && KEYED.has(c.type) ? c.idempotencyKey : null);

/** A stable text of a state, to compare two states. */
function snapshot(state: LedgerState): string {
  const sorted = (m: Map<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(
    [...state.values()].map((a) => ({ ...a, units: sorted(a.units), pools: sorted(a.pools), holds: sorted(a.holds), idempotency: sorted(a.idempotency), work: sorted(a.work) })),
    (_k, v) => (typeof v === "bigint" ? `${v}n` : v),
  );
}

/** The account as a command would see it after the lazy expiry (what "before" means for the negative limit). */
function afterLazyExpiry(account: AccountState, nowMs: number): AccountState {
  const ids = { entryId: () => 0n, holdId: () => "", poolId: () => "" };
  const writes = [...expireHolds(account, nowMs), ...expirePools(account, { nowMs, ids })];
  if (writes.length === 0) return account;
  const copy = cloneAccount(account);
  applyWrites(new Map([[copy.accountId, copy]]), writes);
  return copy;
}

/** The balances, holds and work of a state: what two runs of the same commands must agree on. */
function balances(state: LedgerState): string {
  const parts: string[] = [];
  for (const a of state.values()) {
    for (const u of a.units.values()) parts.push(`${u.unit}:${u.heldMicros}:${u.crossedPercents.join(",")}`);
    for (const p of a.pools.values()) parts.push(`${p.poolId}:${p.balanceMicros}:${p.grantedMicros}:${p.closed}`);
    for (const h of a.holds.values()) parts.push(`${h.holdId}:${h.status}:${h.chargedMicros}`);
    for (const w of a.work.values()) parts.push(`${w.workId}:${w.state}:${w.chargedMicros}:${w.chargedUntilMs}`);
    parts.push(`keys:${a.idempotency.size}`);
  }
  return parts.join("|");
}

class Run {
  readonly m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: NEGATIVE_LIMIT, facts: { drawdownOrder: ["add_on", "bonus"], thresholdPercents: [50, 80, 100] } });
  readonly sent: { command: Command; result: Result<unknown> }[] = [];
  readonly holds: string[] = [];
  readonly work: string[] = [];
  readonly poolSums = new Map<string, bigint>();
  readonly recorded = new Set<string>();
  /** The state the run started from, and every write since: replayed onto it they must give the state now. */
  readonly initial: LedgerState;
  readonly allWrites: Write[] = [];
  operations = 0;

  constructor() {
    this.journal(this.m.last!.writes);
    this.initial = new Map([...this.m.state].map(([k, a]) => [k, cloneAccount(a)]));
  }

  /** The writes are the whole change: applied to the state the run started from, they give the state it ended in. */
  checkWritesReproduceState(): void {
    const state = new Map([...this.initial].map(([k, a]) => [k, cloneAccount(a)]));
    applyWrites(state, this.allWrites);
    expect(snapshot(state)).toBe(snapshot(this.m.state));
  }

  private journal(writes: readonly Write[]): void {
    for (const write of writes) {
      if (write.type === "entry") {
        const { lines } = write.entry;
        check(lines.reduce((sum, l) => sum + l.amountMicros, 0n) === 0n, `entry ${write.entry.entryId}: its lines sum to zero`);
        const pools = lines.filter((l) => l.poolId !== null).map((l) => l.poolId);
        check(new Set(pools).size === pools.length, `entry ${write.entry.entryId}: one journal line per pool`);
        for (const line of lines) if (line.poolId) this.poolSums.set(line.poolId, (this.poolSums.get(line.poolId) ?? 0n) + line.amountMicros);
      }
      if (write.type === "idempotency") {
        const key = `${write.accountId}:${write.record.key}`;
        check(!this.recorded.has(key), `key ${key} has one effect`);
        this.recorded.add(key);
      }
      if (write.type === "hold") this.holds.push(write.hold.holdId);
      if (write.type === "work") this.work.push(write.work.workId);
    }
  }

  private build(op: Op): Command | null {
    const m = this.m;
    const pick = <T>(list: readonly T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
    switch (op.op) {
      case "authorize":
        return m.authorize(BigInt(op.amount), { ttlMs: op.ttl, requestHash: `a:${op.amount}:${op.ttl}` });
      case "charge": {
        const holdId = op.hold === null ? null : (pick(this.holds, op.hold) ?? null);
        return m.charge(BigInt(op.amount), { holdId, final: op.final, requestHash: `c:${holdId}:${op.amount}:${op.final}` });
      }
      case "release": {
        const holdId = pick(this.holds, op.hold);
        return holdId ? m.release(holdId) : null;
      }
      case "reverse": {
        const charge = pick(m.entries.filter((e) => e.kind === "charge"), op.charge);
        return charge ? { type: "reverse", accountId: "acct", entryId: charge.entryId, reason: "refund", actor: "support", traceId: "", idempotencyKey: m.nextKey(), requestHash: `reverse:${charge.entryId}` } : null;
      }
      case "extend": {
        const holdId = pick(this.holds, op.hold);
        return holdId && (op.amount > 0 || op.ttl > 0) ? m.extendHold(holdId, BigInt(op.amount), op.ttl) : null;
      }
      case "grant":
        return m.grant(BigInt(op.amount), {
          kind: op.kind, expiresAtMs: op.expiresIn === null ? null : m.nowMs + op.expiresIn, priority: op.priority,
          reload: op.reload && op.kind === "add_on" ? { belowMicros: 10n, toMicros: 40n, cooldownMs: 1_000 } : null,
          requestHash: `g:${op.kind}:${op.amount}:${op.expiresIn}:${op.priority}:${op.reload}`,
        });
      case "adjust": {
        const pool = pick([...m.account.pools.keys()], op.pool);
        return pool ? m.adjust(pool, BigInt(op.amount)) : null;
      }
      case "startRun": {
        const workId = `run-${this.work.length + 1}`;
        return { type: "startWork", kind: "run", accountId: "acct", workId, unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: m.nextKey(), requestHash: workId };
      }
      case "meter": {
        const workId = pick(this.work, op.work);
        const item = workId ? m.account.work.get(workId) : undefined;
        if (!item) return null;
        return { type: "meter", accountId: "acct", workId: item.workId, fromMs: item.chargedUntilMs, toMs: Math.max(item.chargedUntilMs, m.nowMs), amountMicros: BigInt(op.amount), bucket: "compute", rateTableVersion: 1n, nextState: null, replicas: null, traceparent: "", traceId: "" };
      }
      case "expire":
        return { type: op.what, accountId: "acct" };
      case "bad":
        return [m.charge(-1n), m.release("no-such-hold"), m.grant(5n, { expiresAtMs: m.nowMs }), m.adjust("no-such-pool", 1n)][op.which]!;
      default:
        return null;
    }
  }

  step(op: Op): void {
    const m = this.m;
    if (op.op === "tick") {
      m.nowMs += op.ms;
      return;
    }
    if (op.op === "nextCycle") {
      this.apply([m.nextCycle()]);
      return;
    }
    if (op.op === "replay" || op.op === "reuse") {
      const keyed = this.sent.filter((s) => keyOf(s.command) !== null && s.result.ok);
      const original = keyed[op.index % Math.max(keyed.length, 1)];
      if (!original) return;
      const command = op.op === "replay" ? original.command : { ...original.command, requestHash: `${(original.command as { requestHash: string }).requestHash}:other` };
      const [result] = this.apply([command]);
      check(this.m.last!.writes.length === 0, "a replay or a reused key writes nothing");
      if (op.op === "replay") expect(result, "a replay answers identically").toEqual({ ...original.result, replayed: true });
      else expect(result).toMatchObject({ ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" } });
      return;
    }
    if (op.op === "batch") {
      const commands = op.ops.map((o) => this.build(o)).filter((c): c is Command => c !== null);
      if (commands.length === 0) return;
      return this.batchEqualsSequence(commands);
    }
    const command = this.build(op);
    if (command) this.apply([command]);
  }

  /** A batch answers what the same commands one by one would answer, and ends in the same state. */
  private batchEqualsSequence(commands: Command[]): void {
    const m = this.m;
    let seqState = m.state;
    let entry = 1_000_000n;
    let id = 1_000_000;
    const seqIds = { entryId: () => entry++, holdId: () => `s-hold-${id++}`, poolId: () => `s-pool-${id++}` };
    const sequential: Result<unknown>[] = [];
    for (const c of commands) {
      const one = execute(seqState, [c], { nowMs: m.nowMs, ids: seqIds });
      sequential.push(one.outcomes[0]!.result);
      seqState = one.state;
    }
    entry = 1_000_000n;
    id = 1_000_000;
    const batch = execute(m.state, commands, { nowMs: m.nowMs, ids: seqIds });
    expect(batch.outcomes.map((o) => o.result), "a batch answers as its commands one by one").toEqual(sequential);
    expect(balances(batch.state)).toBe(balances(seqState));
    // Now for real, with the machine's ids.
    this.apply(commands);
  }

  private apply(commands: Command[]): Result<unknown>[] {
    const m = this.m;
    const before = afterLazyExpiry(m.account, m.nowMs);
    const results = m.run(...commands);
    const batch = m.last!;
    this.operations += commands.length;
    this.journal(batch.writes);

    this.allWrites.push(...batch.writes);

    commands.forEach((command, i) => {
      const { result, writes } = batch.outcomes[i]!;
      if (!result.ok || result.replayed) check(writes.length === 0, "a refused or replayed command writes nothing");
      const key = keyOf(command);
      if (key !== null && result.ok && !result.replayed) {
        check(writes.filter((w) => w.type === "idempotency").length === 1, "an answer is recorded once under its key");
      }
      if (key !== null) this.sent.push({ command, result });
    });
    this.checkState(before, commands);
    return results;
  }

  private checkState(before: AccountState, commands: Command[]): void {
    const account = this.m.account;
    for (const pool of account.pools.values()) {
      check((this.poolSums.get(pool.poolId) ?? 0n) === pool.balanceMicros, `journal = balance of ${pool.poolId}`);
    }
    for (const unit of account.units.values()) {
      let open = 0n;
      for (const hold of account.holds.values()) if (hold.unit === unit.unit && hold.status === "open") open += remaining(hold);
      check(unit.heldMicros === open, `held ${unit.heldMicros} = open holds ${open}`);
      if (commands.some((c) => c.type === "rollOver") || this.m.last!.writes.length === 0) continue;
      // No command takes balance − held below the negative limit (or, already below, lower still).
      const after = unitTotals(account, unit.unit, this.m.nowMs).availableMicros;
      const was = unitTotals(before, unit.unit, this.m.nowMs).availableMicros;
 if (after < -unit.negativeLimitMicros) check(after >= was, `available ${after} below −${unit.negativeLimitMicros} (was ${was}) after ${JSON.stringify(commands, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`);
    }
  }
}

describe("the state machine under random operations", () => {
  it(`keeps its invariants over ${RUNS * OPS_PER_RUN} operations`, () => {
    let operations = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: OPS_PER_RUN, maxLength: OPS_PER_RUN }), (ops) => {
        const run = new Run();
        for (const [i, op] of ops.entries()) {
          try {
            run.step(op);
          } catch (error) {
            throw new Error(`operation ${i} ${JSON.stringify(op)}: ${(error as Error).message}`, { cause: error });
          }
        }
        run.checkWritesReproduceState();
        operations += ops.length;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(operations).toBeGreaterThanOrEqual(RUNS * OPS_PER_RUN);
  }, 120_000);
});
