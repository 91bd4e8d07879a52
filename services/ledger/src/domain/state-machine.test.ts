import { describe, expect, it } from "vitest";
import { unitTotals } from "./balance.js";
import { Machine } from "./fixtures.js";
import type { MeterCommand, StartWorkCommand } from "./commands.js";
import { MAX_BALANCE_MICROS } from "./rules/grants.js";

const credits = (m: Machine) => unitTotals(m.account, "credits", m.nowMs);
/** The plan's rules leave the work unmetered where it runs (self-hosted). */
const UNMETERED = { allowed: true, metered: false, reason: "self-hosted" };

describe("the contract", () => {
  it("1. expired holds are returned before a Grant and before an Adjust", () => {
    const m = Machine.open();
    const hold = m.ok(m.authorize(3n, { ttlMs: 500 }));
    m.nowMs += 700;
    m.ok(m.grant(1n));
    expect(m.account.holds.get(hold.holdId!)!.status).toBe("expired");
    expect(credits(m).heldMicros).toBe(0n);

    const again = m.ok(m.authorize(4n, { ttlMs: 500 }));
    m.nowMs += 700;
    m.ok(m.adjust(m.poolOf("monthly").poolId, 1n));
    expect(m.account.holds.get(again.holdId!)!.status).toBe("expired");
    expect(credits(m).heldMicros).toBe(0n);
  });

  it("2. an overdrawing charge writes one line per pool", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    const bonus = m.ok(m.grant(3n));
    const charged = m.ok(m.charge(110n));
    expect(charged).toMatchObject({ chargedMicros: 110n, uncollectedMicros: 0n, balanceMicros: -7n });
    const entry = m.entries.at(-1)!;
    const monthly = m.poolOf("monthly").poolId;
    expect(entry.lines.map((l) => [l.ledgerAccount, l.amountMicros])).toEqual([
      [`pool:${monthly}`, -107n],
      [`pool:${bonus.poolId}`, -3n],
      ["usage:acct:ai", 110n],
    ]);
  });

  it("1. a rollover of the cycle already current writes nothing, not even the expiry, so a call that fails after it leaves the journal as it was", () => {
    const m = Machine.open();
    const hold = m.ok(m.authorize(3n, { ttlMs: 500 }));
    m.nowMs += 700;
    const [rolled] = m.run(m.rollOver());
    expect(rolled).toMatchObject({ ok: true, value: { rolled: false } });
    expect(m.last!.writes).toEqual([]);
    expect(m.account.holds.get(hold.holdId!)!.status).toBe("open");
    m.ok(m.grant(1n));
    expect(m.account.holds.get(hold.holdId!)!.status).toBe("expired");
  });

  it("3. a Charge on an expired hold is usage above it: released 0, the hold stays expired, its charged amount grows", () => {
    const m = Machine.open();
    const hold = m.ok(m.authorize(10n, { ttlMs: 500 }));
    m.nowMs += 500;
    const charged = m.ok(m.charge(4n, { holdId: hold.holdId! }));
    expect(charged).toMatchObject({ chargedMicros: 4n, releasedMicros: 0n, balanceMicros: 96n });
    expect(m.account.holds.get(hold.holdId!)).toMatchObject({ status: "expired", chargedMicros: 4n });
    expect(credits(m).heldMicros).toBe(0n);
  });

  it("3. a Charge on a charged or released hold is HOLD_CLOSED and writes nothing", () => {
    const m = Machine.open();
    const charged = m.ok(m.authorize(10n));
    m.ok(m.charge(4n, { holdId: charged.holdId! }));
    const released = m.ok(m.authorize(10n));
    m.ok(m.release(released.holdId!));
    for (const holdId of [charged.holdId!, released.holdId!]) {
      const [result] = m.run(m.charge(1n, { holdId }));
      expect(result).toMatchObject({ ok: false, error: { code: "FAILED_PRECONDITION", reason: "HOLD_CLOSED" } });
      expect(m.last!.writes).toEqual([]);
    }
  });

  it("4. a Release of a hold no longer open answers OK with its status and 0", () => {
    const m = Machine.open();
    const hold = m.ok(m.authorize(10n));
    m.ok(m.charge(4n, { holdId: hold.holdId! }));
    expect(m.ok(m.release(hold.holdId!))).toEqual({ releasedMicros: 0n, status: "charged" });
    const open = m.ok(m.authorize(10n));
    expect(m.ok(m.release(open.holdId!))).toEqual({ releasedMicros: 10n, status: "released" });
    expect(m.ok(m.release(open.holdId!))).toEqual({ releasedMicros: 0n, status: "released" });
    const expiring = m.ok(m.authorize(10n, { ttlMs: 1 }));
    m.nowMs += 1;
    expect(m.ok(m.release(expiring.holdId!))).toEqual({ releasedMicros: 0n, status: "expired" });
  });

  it("5. proceed is false at exactly the negative limit though everything was collected", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    expect(m.ok(m.charge(124n))).toMatchObject({ chargedMicros: 124n, proceed: true });
    expect(m.ok(m.charge(1n))).toMatchObject({ chargedMicros: 1n, uncollectedMicros: 0n, balanceMicros: -25n, proceed: false });
    expect(m.ok(m.charge(5n))).toMatchObject({ chargedMicros: 0n, uncollectedMicros: 5n, balanceMicros: -25n, proceed: false });
  });

  it("6. draw-down: monthly, then the plan's kinds, then priority, then expiring first, then oldest; the overdraft on the first pool", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 100n, facts: { drawdownOrder: ["add_on", "bonus"] } });
    const later = m.ok(m.grant(10n, { kind: "bonus", priority: 1 }));
    const neverExpires = m.ok(m.grant(10n, { kind: "bonus" }));
    const expires = m.ok(m.grant(10n, { kind: "bonus", expiresAtMs: m.nowMs + 1_000_000 }));
    m.nowMs += 1;
    const older = m.ok(m.grant(10n, { kind: "add_on" }));
    m.nowMs += 1;
    const newer = m.ok(m.grant(10n, { kind: "add_on" }));
    const free = m.ok(m.grant(10n, { kind: "free_grant" }));
    m.ok(m.charge(80n));
    const monthly = m.poolOf("monthly").poolId;
    expect(m.entries.at(-1)!.lines.filter((l) => l.poolId).map((l) => [l.poolId, l.amountMicros])).toEqual([
      [monthly, -20n],
      [older.poolId, -10n],
      [newer.poolId, -10n],
      [expires.poolId, -10n],
      [neverExpires.poolId, -10n],
      [later.poolId, -10n],
      [free.poolId, -10n],
    ]);
  });

  it("7. an Authorize never reaches into the negative limit", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 1000n });
    expect(m.ok(m.authorize(11n))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS", availableMicros: 10n, holdId: null });
    expect(m.ok(m.authorize(10n))).toMatchObject({ allowed: true, availableMicros: 0n });
  });

  it("8. available after the hold; balance without holds; a hold's charged amount includes usage above it; granted follows Adjusts", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    const hold = m.ok(m.authorize(30n));
    expect(hold.availableMicros).toBe(70n);
    const charged = m.ok(m.charge(40n, { holdId: hold.holdId!, final: false }));
    expect(charged.balanceMicros).toBe(60n);
    expect(m.account.holds.get(hold.holdId!)!.chargedMicros).toBe(40n);
    const monthly = m.poolOf("monthly");
    expect(m.ok(m.adjust(monthly.poolId, 5n)).balanceMicros).toBe(65n);
    expect(m.poolOf("monthly").grantedMicros).toBe(105n);
    const bonus = m.ok(m.grant(7n));
    expect(bonus.balanceMicros).toBe(72n);
    // Taking back more than a pool was given leaves it given nothing (never below zero).
    expect(m.ok(m.adjust(bonus.poolId, -60n)).balanceMicros).toBe(12n);
    expect(m.account.pools.get(bonus.poolId)).toMatchObject({ balanceMicros: -53n, grantedMicros: 0n });
  });

  it("an Adjust that takes back a mistaken grant is not usage: no usage threshold fires on the next charge", () => {
    const m = Machine.open({ allotmentMicros: 100n, facts: { thresholdPercents: [50, 80, 100] } });
    const granted = m.ok(m.grant(1_000_000n, { kind: "bonus" }));
    m.ok(m.adjust(granted.poolId, -1_000_000n));
    expect(m.account.pools.get(granted.poolId)).toMatchObject({ balanceMicros: 0n, grantedMicros: 0n });
    m.ok(m.charge(10n));
    expect(m.events.filter((e) => e.kind === "threshold_crossed")).toEqual([]);
    // Real usage still crosses them: 60 of the 100 allotted.
    m.ok(m.charge(50n));
    expect(m.events.filter((e) => e.kind === "threshold_crossed").map((e) => e.payload)).toMatchObject([{ threshold_percent: 50 }]);
  });

  it("an Adjust may not take balance − held below the negative limit, and a closed pool is not adjusted", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    m.ok(m.authorize(50n));
    const monthly = m.poolOf("monthly").poolId;
    expect(m.run(m.adjust(monthly, -76n))[0]).toMatchObject({ ok: false, error: { reason: "ADJUSTMENT_BELOW_LIMIT" } });
    expect(m.ok(m.adjust(monthly, -75n)).balanceMicros).toBe(25n);
    const bonus = m.ok(m.grant(5n, { expiresAtMs: m.nowMs + 10 }));
    m.nowMs += 10;
    expect(m.run(m.adjust(bonus.poolId, 1n))[0]).toMatchObject({ ok: false, error: { reason: "POOL_CLOSED" } });
  });

  it("a Grant or Adjust may not take the unit's balance past 10^18 micro-units (sums the ledger answers would overflow int64), and writes nothing", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    const big = m.ok(m.grant(MAX_BALANCE_MICROS - 200n));
    expect(big.balanceMicros).toBe(MAX_BALANCE_MICROS - 100n);
    expect(m.run(m.grant(101n))[0]).toMatchObject({ ok: false, error: { code: "FAILED_PRECONDITION", reason: "BALANCE_LIMIT", field: "amount_micros", message: expect.stringContaining("above the largest a balance may be") } });
    expect(m.last!.writes).toEqual([]);
    expect(m.run(m.adjust(big.poolId, 101n))[0]).toMatchObject({ ok: false, error: { reason: "BALANCE_LIMIT" } });
    expect(m.last!.writes).toEqual([]);
    // Up to the limit, and any debit from there.
    expect(m.ok(m.adjust(big.poolId, 100n)).balanceMicros).toBe(MAX_BALANCE_MICROS);
    expect(m.ok(m.adjust(big.poolId, -1n)).balanceMicros).toBe(MAX_BALANCE_MICROS - 1n);
    expect(credits(m).balanceMicros).toBe(MAX_BALANCE_MICROS - 1n);
  });

  it("a reversal may not take the balance past the limit either (charges, grants to the limit, then reversals would)", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    const charged = m.ok(m.charge(50n));
    m.ok(m.grant(MAX_BALANCE_MICROS - 60n));
    const reverse = { type: "reverse" as const, accountId: m.account.accountId, entryId: charged.entryId, reason: "refund", actor: "support", idempotencyKey: "reverse-1", requestHash: "reverse-1", traceId: "" };
    expect(m.run(reverse)[0]).toMatchObject({ ok: false, error: { code: "FAILED_PRECONDITION", reason: "BALANCE_LIMIT", field: "entry_id" } });
    expect(m.last!.writes).toEqual([]);
    expect(credits(m).balanceMicros).toBe(MAX_BALANCE_MICROS - 10n);
  });

  it("a Grant makes a bonus, add-on or free-grant pool: the cycle's pools (monthly, spend cap) are opened by rollover alone", () => {
    // A granted monthly pool with an expiry was never expired (the sweep leaves cycle pools to rollover) yet stopped counting at its expiry: credits left the balance with no entry.
    const m = Machine.open({ allotmentMicros: 100n });
    for (const kind of ["monthly", "spend_cap"] as const) {
      expect(m.run(m.grant(12n, { kind, expiresAtMs: m.nowMs + 10 }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "pool_kind" } });
    }
    expect(m.last!.writes).toEqual([]);
    expect(credits(m).balanceMicros).toBe(100n);
  });
});

describe("order of checks", () => {
  it("INVALID_ARGUMENT before NOT_FOUND before the idempotency key before FAILED_PRECONDITION", () => {
    const m = Machine.open();
    const hold = m.ok(m.authorize(10n));
    m.ok(m.charge(1n, { holdId: hold.holdId!, idempotencyKey: "used" }));
    expect(m.run(m.charge(-1n, { holdId: "nope", idempotencyKey: "used" }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "usage" } });
    expect(m.run(m.charge(1n, { holdId: "nope", idempotencyKey: "used" }))[0]).toMatchObject({ ok: false, error: { code: "NOT_FOUND", reason: "HOLD_NOT_FOUND" } });
    expect(m.run(m.charge(2n, { holdId: hold.holdId!, idempotencyKey: "used" }))[0]).toMatchObject({ ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" } });
    expect(m.run(m.charge(1n, { holdId: hold.holdId!, idempotencyKey: "used" }))[0]).toMatchObject({ ok: true, replayed: true });
    expect(m.run(m.charge(1n, { holdId: hold.holdId! }))[0]).toMatchObject({ ok: false, error: { code: "FAILED_PRECONDITION", reason: "HOLD_CLOSED" } });
    expect(m.run(m.charge(1n, { idempotencyKey: "" }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "idempotency_key" } });
  });

  it("an account with no cycle is NOT_FOUND", () => {
    const m = Machine.open();
    expect(m.run(m.charge(1n, { accountId: "other" }))[0]).toMatchObject({ ok: false, error: { code: "NOT_FOUND", reason: "ACCOUNT_NOT_FOUND" } });
  });

  it("one bad command never spoils a batch: the others commit, the bad one writes nothing", () => {
    const m = Machine.open();
    const results = m.run(m.charge(10n), m.charge(-5n), m.release("missing"), m.charge(20n));
    expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
    expect(m.last!.outcomes[1]!.writes).toEqual([]);
    expect(m.last!.outcomes[2]!.writes).toEqual([]);
    expect(unitTotals(m.account, "credits", m.nowMs).balanceMicros).toBe(70n);
  });

  it("a command later in a batch sees the writes of the ones before it", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 0n });
    const [first, second] = m.run(m.authorize(6n), m.authorize(6n));
    expect(first).toMatchObject({ ok: true, value: { allowed: true } });
    expect(second).toMatchObject({ ok: true, value: { allowed: false, availableMicros: 4n } });
  });
});

describe("metering ticks", () => {
  it("charges the interval, moves charged_until, stops the work it cannot pay with a work_stopped event, ignores a stale tick", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 5n });
    m.ok({ type: "startWork", kind: "run", accountId: "acct", workId: "run-1", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "s", requestHash: "s" });
    const start = m.nowMs;
    m.nowMs += 10_000;
    const tick = { type: "meter" as const, accountId: "acct", workId: "run-1", fromMs: start, toMs: start + 10_000, amountMicros: 8n, bucket: "compute", rateTableVersion: 1n, nextState: null, replicas: null, traceparent: "", traceId: "" };
    expect(m.ok(tick)).toMatchObject({ stale: false, state: "running", charge: { chargedMicros: 8n, proceed: true } });
    expect(m.ok(tick)).toMatchObject({ stale: true, state: "running", charge: null });
    const next = { ...tick, fromMs: start + 10_000, toMs: start + 20_000 };
    expect(m.ok(next)).toMatchObject({ state: "stopped", charge: { chargedMicros: 7n, uncollectedMicros: 1n, proceed: false } });
    expect(m.account.work.get("run-1")).toMatchObject({ state: "stopped", chargedMicros: 15n, activeMs: 20_000, stopReason: "negative limit reached" });
    expect(m.events.map((e) => e.kind)).toContain("work_stopped");
  });

  const start = (m: Machine, fields: Partial<StartWorkCommand> = {}): StartWorkCommand => ({
    type: "startWork", kind: "run", accountId: "acct", workId: "run-1", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: m.nextKey(), requestHash: "s", ...fields,
  });
  const tick = (m: Machine, fields: Partial<MeterCommand> = {}): MeterCommand => {
    const item = m.account.work.get(fields.workId ?? "run-1")!;
    return {
      type: "meter", accountId: "acct", workId: item.workId, fromMs: item.chargedUntilMs, toMs: m.nowMs, amountMicros: 1n, bucket: "compute", rateTableVersion: 1n,
      nextState: null, replicas: null, traceparent: "", traceId: "", ...fields,
    };
  };

  it("starts work with what it was priced from, records the start under the key as start_<kind>, and keeps the running totals a tick carries", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    const usage = { kind: "gpu_time", gpuType: "A100", replicas: "0", seconds: "0" };
    const context = { run_location: "cloud", inference_source: "managed", compute_source: "hosted" };
    m.ok(start(m, { kind: "deployment", workId: "d", replicas: 2, usage, labels: { team: "ml" }, context, endpoint: "https://d", idempotencyKey: "dep" }));
    expect(m.account.work.get("d")).toMatchObject({ usage, labels: { team: "ml" }, context, metered: true, pricedQuantity: 0n, pricedMicros: 0n, createdAtMs: m.nowMs, chargedUntilMs: m.nowMs });
    expect(m.account.idempotency.get("dep")?.operation).toBe("start_deployment");
    m.nowMs += 3_000;
    expect(m.ok(tick(m, { workId: "d", amountMicros: 6n, pricedQuantity: 6n, pricedMicros: 6n }))).toMatchObject({ charge: { chargedMicros: 6n } });
    expect(m.account.work.get("d")).toMatchObject({ pricedQuantity: 6n, pricedMicros: 6n, chargedMicros: 6n, activeMs: 3_000 });
  });

  it("charges a tick in the unit it was priced in (work started before its unit was recorded says credits) and records the unit", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    m.ok(start(m));
    m.run(m.rollOver({ units: [...m.units(), { unit: "usd", allotmentMicros: 50n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "spend_cap" }] }));
    m.nowMs += 1_000;
    expect(m.ok(tick(m, { unit: "usd", amountMicros: 7n }))).toMatchObject({ charge: { chargedMicros: 7n, balanceMicros: 43n } });
    expect(m.entries.at(-1)).toMatchObject({ kind: "charge", unit: "usd", amountMicros: 7n });
    expect(m.account.work.get("run-1")?.unit).toBe("usd");
  });

  it("charges nothing for a paused run's interval or unmetered work, and moves their time on", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    expect(m.ok(start(m, { eligibility: UNMETERED }))).toMatchObject({ allowed: true });
    m.nowMs += 5_000;
    const entries = m.entries.length;
    expect(m.ok(tick(m, { amountMicros: 0n, nextState: "paused" }))).toEqual({ stale: false, state: "paused", charge: null });
    expect(m.entries.length).toBe(entries);
    expect(m.account.work.get("run-1")).toMatchObject({ state: "paused", activeMs: 5_000, chargedUntilMs: m.nowMs, metered: false });

    const paid = Machine.open({ allotmentMicros: 100n });
    paid.ok(start(paid));
    paid.nowMs += 2_000;
    paid.ok(tick(paid, { nextState: "paused" }));
    paid.nowMs += 60_000;
    expect(paid.ok(tick(paid, { amountMicros: 50n, nextState: "finished" }))).toEqual({ stale: false, state: "finished", charge: null });
    expect(paid.account.work.get("run-1")).toMatchObject({ state: "finished", activeMs: 2_000, chargedMicros: 1n });
  });

  it("resumes a paused run from now, so the pause is never charged; other states stay as they are", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    m.ok(start(m));
    m.nowMs += 1_000;
    m.ok(tick(m, { nextState: "paused" }));
    m.nowMs += 30_000;
    expect(m.ok({ type: "resumeWork", accountId: "acct", workId: "run-1" })).toEqual({ state: "running" });
    expect(m.account.work.get("run-1")).toMatchObject({ state: "running", chargedUntilMs: m.nowMs, activeMs: 1_000 });
    expect(m.ok({ type: "resumeWork", accountId: "acct", workId: "run-1" })).toEqual({ state: "running" });
    expect(m.last!.writes).toEqual([]);
    expect(m.run({ type: "resumeWork", accountId: "acct", workId: "nope" })[0]).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("starts unmetered work whatever the balance, but not for a suspended account", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    expect(m.ok(start(m))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS" });
    expect(m.ok(start(m, { eligibility: UNMETERED }))).toMatchObject({ allowed: true });
    const suspended = Machine.open({ allotmentMicros: 0n, facts: { suspended: true } });
    expect(suspended.ok(start(suspended, { eligibility: UNMETERED }))).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED" });
  });

  it("recalls a start's key before suspension and the plan's rules deny it: a retry answers as the start did", () => {
    // StartRun(K, r1) allowed; support suspends the account; the retry of StartRun(K, r1) answers allowed, and r1 runs on.
    const m = Machine.open({ allotmentMicros: 100n });
    const first = start(m, { idempotencyKey: "K", requestHash: "start r1" });
    expect(m.ok(first)).toMatchObject({ allowed: true, metered: true });
    m.account.facts = { ...m.account.facts, suspended: true };
    expect(m.run(first)[0]).toMatchObject({ ok: true, replayed: true, value: { allowed: true } });
    expect(m.last!.writes).toEqual([]);
    expect(m.account.work.get("run-1")?.state).toBe("running");
    // A new start while suspended is denied, in the rule's words, and the denial is recorded under its key.
    const denied = start(m, { workId: "run-2", idempotencyKey: "K2", requestHash: "start r2" });
    expect(m.ok(denied)).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED", message: "the account is suspended", metered: true });
    expect(m.account.idempotency.get("K2")).toMatchObject({ operation: "start_run", response: { allowed: false, reason: "ACCOUNT_SUSPENDED" } });
    expect(m.account.work.has("run-2")).toBe(false);
  });

  it("records a start denied by suspension or the plan's rules under its key: the key cannot start other work later", () => {
    // On a suspended account StartRun(K, r1) is denied; after reactivation StartRun(K, r2) is a reused key, and starts nothing.
    const m = Machine.open({ allotmentMicros: 100n, facts: { suspended: true } });
    const first = start(m, { idempotencyKey: "K", requestHash: "start r1" });
    expect(m.ok(first)).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED" });
    m.account.facts = { ...m.account.facts, suspended: false };
    expect(m.run(start(m, { workId: "run-2", idempotencyKey: "K", requestHash: "start r2" }))[0]).toMatchObject({
      ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" },
    });
    expect(m.account.work.size).toBe(0);
    // The same request replays the denial, as any denial does.
    expect(m.run(first)[0]).toMatchObject({ ok: true, replayed: true, value: { allowed: false, reason: "ACCOUNT_SUSPENDED" } });

    // NOT_ELIGIBLE alike, with the plan rule's reason; suspension comes first.
    const notEligible = { allowed: false, metered: false, reason: "self-hosted runs are not on this plan" };
    expect(m.ok(start(m, { idempotencyKey: "E", requestHash: "start r3", workId: "run-3", eligibility: notEligible }))).toMatchObject({
      allowed: false, reason: "NOT_ELIGIBLE", message: "self-hosted runs are not on this plan", metered: false,
    });
    expect(m.run(start(m, { idempotencyKey: "E", requestHash: "start r4", workId: "run-4" }))[0]).toMatchObject({ ok: false, error: { reason: "IDEMPOTENCY_KEY_REUSED" } });
    const suspended = Machine.open({ allotmentMicros: 100n, facts: { suspended: true } });
    expect(suspended.ok(start(suspended, { eligibility: notEligible }))).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED" });
    // Allowed and unmetered: started, and says why it is unmetered.
    expect(m.ok(start(m, { workId: "run-5", eligibility: UNMETERED }))).toMatchObject({ allowed: true, metered: false, message: "self-hosted" });
    expect(m.account.work.get("run-5")?.metered).toBe(false);
  });

  it("a deployment is refused below the low-credit limit", () => {
    const m = Machine.open({ allotmentMicros: 10n, lowCreditLimitMicros: 20n });
    const answer = m.ok({ type: "startWork", kind: "deployment", accountId: "acct", workId: "d", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "d", requestHash: "d" });
    expect(answer).toEqual({ allowed: false, reason: "BELOW_LOW_CREDIT_LIMIT", availableMicros: 10n, metered: true });
  });
});

describe("limits per kind of work", () => {
  const kindLimits = [
    { unit: "credits", workKind: "guardrail", lowCreditLimitMicros: 20n, negativeLimitMicros: 5n, draftsAtZero: false, stopMessage: "guardrail out of credits" },
    { unit: "credits", workKind: "custom_script", lowCreditLimitMicros: 0n, negativeLimitMicros: 2n, draftsAtZero: true, stopMessage: "" },
  ];
  const start = (m: Machine, workId: string, workKind: string) =>
    m.ok({ type: "startWork", kind: "deployment", accountId: "acct", workId, unit: "credits", replicas: 1, attribution: {}, endpoint: "https://e", idempotencyKey: workId, requestHash: workId, workKind });

  it("refuses new work of a kind below its low-credit limit and says drafts only at zero when the kind allows drafts", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 25n, facts: { kindLimits } });
    expect(start(m, "g", "guardrail")).toEqual({ allowed: false, reason: "BELOW_LOW_CREDIT_LIMIT", availableMicros: 10n, metered: true });
    expect(start(m, "s", "custom_script")).toEqual({ allowed: true, reason: null, availableMicros: 10n, metered: true });
    expect(m.ok(m.authorize(1n, { workKind: "guardrail" }))).toMatchObject({ allowed: false, reason: "BELOW_LOW_CREDIT_LIMIT" });
    expect(m.ok(m.authorize(10n, { workKind: "custom_script" }))).toMatchObject({ allowed: true });
    // Nothing left: a custom script may be saved as a draft only.
    expect(m.ok(m.authorize(1n, { workKind: "custom_script" }))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS", draftsOnly: true });
    expect(start(m, "s2", "custom_script")).toEqual({ allowed: false, reason: "INSUFFICIENT_CREDITS", availableMicros: 0n, metered: true, draftsOnly: true });
  });

  it("says stop to a charge on a hold of a kind once it leaves the unit at the kind's negative limit, though the unit's allows more", () => {
    const m = Machine.open({ allotmentMicros: 30n, negativeLimitMicros: 25n, facts: { kindLimits } });
    const hold = m.ok(m.authorize(20n, { workKind: "guardrail", attribution: { work_kind: "guardrail" } })); // as the use case attributes it
    expect(m.ok(m.charge(34n, { holdId: hold.holdId!, final: false }))).toMatchObject({ chargedMicros: 34n, proceed: true }); // −4
    expect(m.ok(m.charge(1n, { holdId: hold.holdId! }))).toMatchObject({ chargedMicros: 1n, proceed: false }); // −5: the guardrail's limit
    expect(m.ok(m.charge(1n))).toMatchObject({ chargedMicros: 1n, proceed: true }); // usage of no kind: the unit's −25
  });

  it("stops running work of a kind at its own negative limit, with its message and kind, before the unit's", () => {
    const m = Machine.open({ allotmentMicros: 30n, negativeLimitMicros: 25n, facts: { kindLimits } });
    expect(start(m, "g", "guardrail").allowed).toBe(true);
    const from = m.nowMs;
    m.nowMs += 10_000;
    const tick = { type: "meter" as const, accountId: "acct", workId: "g", fromMs: from, toMs: from + 10_000, amountMicros: 34n, bucket: "compute", rateTableVersion: 1n, nextState: null, replicas: null, traceparent: "", traceId: "" };
    // −4: past zero, not yet past the guardrail's −5 (the unit allows −25).
    expect(m.ok(tick)).toMatchObject({ state: "running", charge: { chargedMicros: 34n, proceed: true } });
    expect(m.ok({ ...tick, fromMs: from + 10_000, toMs: from + 20_000, amountMicros: 1n })).toMatchObject({ state: "stopped", charge: { proceed: true } });
    const stopped = m.events.filter((e) => e.kind === "work_stopped");
    expect(stopped.map((e) => e.payload)).toEqual([{ run_id: "", deployment_id: "g", message: "guardrail out of credits", work_kind: "guardrail" }]);
    expect(m.events.find((e) => e.kind === "deployment_changed")?.payload).toMatchObject({ deployment_id: "g", work_kind: "guardrail" });
  });
});
