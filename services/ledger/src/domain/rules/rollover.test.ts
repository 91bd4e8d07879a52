import { describe, expect, it } from "vitest";
import { unitTotals } from "../balance.js";
import { CYCLE_MS, Machine } from "../fixtures.js";

describe("rollover", () => {
  it("grants the allotment once per cycle; a repeated or late call writes nothing", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    expect(m.ok(m.rollOver())).toEqual({ rolled: false, cycleStartMs: m.cycleStartMs });
    expect(m.last!.writes).toEqual([]);
    const first = m.rollOver();
    m.ok(m.nextCycle());
    expect(m.ok(first)).toEqual({ rolled: false, cycleStartMs: m.cycleStartMs });
    expect(m.last!.writes).toEqual([]);
  });

  it("lets unused allotment lapse and resets the thresholds crossed", () => {
    const m = Machine.open({ allotmentMicros: 100n, facts: { thresholdPercents: [50] } });
    m.ok(m.charge(60n));
    expect(m.account.units.get("credits")!.crossedPercents).toEqual([50]);
    const old = m.poolOf("monthly").poolId;
    expect(m.ok(m.nextCycle()).rolled).toBe(true);
    expect(m.account.pools.get(old)).toMatchObject({ closed: true, balanceMicros: 0n });
    expect(m.entries.at(-1)).toMatchObject({ kind: "reset", amountMicros: 40n, reason: "unused monthly allotment lapses" });
    expect(unitTotals(m.account, "credits", m.nowMs).balanceMicros).toBe(100n);
    expect(m.account.units.get("credits")!.crossedPercents).toEqual([]);
    // Said once, with the new cycle's start: what the old crossings put up no longer applies.
    expect(m.events.filter((e) => e.kind === "cycle_started").map((e) => e.payload)).toEqual([{ cycle: new Date(m.cycleStartMs).toISOString() }]);
    m.ok(m.rollOver());
    expect(m.events.filter((e) => e.kind === "cycle_started")).toHaveLength(1);
  });

  it("rolls the units the command does not name too: a unit the plan does not name, used last cycle, starts the new one with no thresholds crossed", () => {
    const m = Machine.open({ allotmentMicros: 100n, facts: { thresholdPercents: [50] } });
    const RUN = 1_000_000n; // tool runs are whole counts
    const toolRuns = { unit: "tool_runs", allotmentMicros: 0n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" as const };
    // A call in tool runs opens the cycle with that unit added (cycleCommand), as a support grant of them does.
    m.ok(m.rollOver({ units: [...m.units(), toolRuns] }));
    const bonus = m.ok(m.grant(100n * RUN, { unit: "tool_runs" }));
    m.ok(m.charge(60n * RUN, { unit: "tool_runs" }));
    expect(m.account.units.get("tool_runs")!.crossedPercents).toEqual([50]);
    m.ok(m.nextCycle()); // rolled by a call in credits: the plan's units only
    expect(m.account.units.get("tool_runs")!.crossedPercents).toEqual([]);
    expect(m.account.pools.get(bonus.poolId)).toMatchObject({ balanceMicros: 40n * RUN, grantedMicros: 40n * RUN });
    m.ok(m.rollOver({ units: [...m.units(), toolRuns] })); // the next call in tool runs: the cycle is rolled already
    const before = m.events.length;
    m.ok(m.charge(20n * RUN, { unit: "tool_runs" })); // 20 of this cycle's 40
    expect(m.events.slice(before).filter((e) => e.kind === "threshold_crossed").map((e) => e.payload)).toMatchObject([{ unit: "tool_runs", threshold_percent: 50 }]);
  });

  it("starts a carried pool's cycle with its balance as what it was given, so the new cycle's percent used counts from zero", () => {
    const m = Machine.open({ allotmentMicros: 1_500n, facts: { thresholdPercents: [20, 50] } });
    const addOn = m.ok(m.grant(3_000n, { kind: "add_on" }));
    m.ok(m.charge(3_900n)); // the monthly 1,500 and 2,400 of the add-on
    m.ok(m.nextCycle());
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 600n, grantedMicros: 600n });
    const before = m.events.length;
    m.ok(m.charge(1n)); // 1 of 2,100: no threshold; measured against the lifetime grants it was 2,401 of 4,500 (20 % and 50 %)
    expect(m.events.slice(before).filter((e) => e.kind === "threshold_crossed")).toEqual([]);
    m.ok(m.charge(419n)); // 420 of 2,100: 20 %
    expect(m.events.slice(before).filter((e) => e.kind === "threshold_crossed").map((e) => e.payload.threshold_percent)).toEqual([20]);
  });

  it("raises the cycle's allotment to a larger plan's on a move within the cycle, once, and takes nothing back on a move to a smaller one", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 0n });
    m.ok(m.charge(100n));
    expect(m.ok(m.authorize(10n))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS" });
    const upgraded = (allotmentMicros: bigint, planVersion: bigint) => m.rollOver({ planVersion, units: [{ ...m.units()[0]!, allotmentMicros }] });
    m.ok(upgraded(500n, 2n));
    expect(m.entries.at(-1)).toMatchObject({ kind: "grant", amountMicros: 400n, reason: "plan changed: the cycle's allotment raised to the new plan's" });
    expect(m.poolOf("monthly")).toMatchObject({ balanceMicros: 400n, grantedMicros: 500n });
    expect(m.ok(m.authorize(10n)).allowed).toBe(true);
    const entries = m.entries.length;
    m.ok(upgraded(500n, 2n)); // the same terms again
    m.ok(upgraded(200n, 3n)); // a smaller plan
    m.ok(upgraded(500n, 4n)); // and back: given already
    expect(m.entries.length).toBe(entries);
    expect(m.poolOf("monthly")).toMatchObject({ balanceMicros: 400n, grantedMicros: 500n });
  });

  it("raises the allotment against what the plans gave, whatever support Adjusts did to the pool", () => {
    const taken = Machine.open({ allotmentMicros: 100n });
    taken.ok(taken.adjust(taken.poolOf("monthly").poolId, -100n)); // support takes the allotment back
    taken.ok(taken.rollOver({ planVersion: 2n })); // the same allotment under another version: nothing to give
    expect(taken.poolOf("monthly")).toMatchObject({ balanceMicros: 0n, grantedMicros: 0n, allottedMicros: 100n });

    const goodwill = Machine.open({ allotmentMicros: 100n });
    goodwill.ok(goodwill.adjust(goodwill.poolOf("monthly").poolId, 200n)); // support adds 200
    goodwill.ok(goodwill.rollOver({ planVersion: 2n, units: [{ ...goodwill.units()[0]!, allotmentMicros: 500n }] }));
    expect(goodwill.entries.at(-1)).toMatchObject({ kind: "grant", amountMicros: 400n });
    expect(goodwill.poolOf("monthly")).toMatchObject({ balanceMicros: 700n, allottedMicros: 500n });
  });

  it("carries a negative balance into the new allotment, one line per pool", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 25n });
    m.ok(m.charge(120n));
    const old = m.poolOf("monthly").poolId;
    m.ok(m.nextCycle());
    const fresh = m.poolOf("monthly").poolId;
    const reset = m.entries.find((e) => e.kind === "reset")!;
    expect(reset.lines.map((l) => [l.poolId, l.amountMicros])).toEqual([[old, 20n], [fresh, -20n]]);
    expect(unitTotals(m.account, "credits", m.nowMs).balanceMicros).toBe(80n);
  });

  it("leaves a negative balance where it is when the new cycle has no allotment", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 25n });
    m.ok(m.charge(20n));
    m.setup.allotmentMicros = 0n;
    m.ok(m.nextCycle());
    expect(m.poolOf("monthly").balanceMicros).toBe(-10n);
  });

  it("follows a spend cap changed within the cycle with an adjustment", () => {
    const m = Machine.open({ allotmentMicros: 0n });
    const units = [...m.units(), { unit: "usd", allotmentMicros: 50n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "spend_cap" as const }];
    m.ok(m.rollOver({ units }));
    m.ok(m.rollOver({ units: units.map((u) => (u.unit === "usd" ? { ...u, allotmentMicros: 80n } : u)) }));
    const cap = m.poolOf("spend_cap");
    expect(cap).toMatchObject({ balanceMicros: 80n, grantedMicros: 80n });
    expect(m.entries.at(-1)).toMatchObject({ kind: "adjust", amountMicros: 30n, reason: "spend cap changed" });
  });

  it("closes spend past a spend cap with its cycle: the next cycle's cap is whole (a monthly cap, seed 002)", () => {
    const m = Machine.open({ allotmentMicros: 0n });
    const usd = (capMicros: bigint) => [...m.units(), { unit: "usd", allotmentMicros: capMicros, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "spend_cap" as const }];
    m.ok(m.rollOver({ units: usd(100n) }));
    m.ok(m.charge(80n, { unit: "usd" }));
    m.ok(m.rollOver({ units: usd(50n) })); // the cap lowered below what the cycle spent: 30 past it
    expect(unitTotals(m.account, "usd", m.nowMs).balanceMicros).toBe(-30n);
    m.ok({ ...m.nextCycle(), units: usd(50n) });
    expect(unitTotals(m.account, "usd", m.nowMs).balanceMicros).toBe(50n);
    const closed = m.entries.find((e) => e.reason === "spend past the cycle's spend cap closes with the cycle")!;
    expect(closed).toMatchObject({ kind: "reset", amountMicros: -30n });
    expect(closed.lines.reduce((sum, l) => sum + l.amountMicros, 0n)).toBe(0n);
  });

  it("keeps a support Adjust on the spend-cap pool: it changes the room left, not the cap rollover follows", () => {
    const m = Machine.open({ allotmentMicros: 0n });
    const units = [...m.units(), { unit: "usd", allotmentMicros: 50n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "spend_cap" as const }];
    m.ok(m.rollOver({ units }));
    const cap = m.poolOf("spend_cap");
    m.ok(m.adjust(cap.poolId, 10n));
    m.ok(m.rollOver({ units }));
    expect(m.poolOf("spend_cap")).toMatchObject({ balanceMicros: 60n, grantedMicros: 50n });
    expect(m.entries.filter((e) => e.reason === "spend cap changed")).toEqual([]);
  });

  it("gives sign-up grants once per account", () => {
    const m = Machine.open();
    const signupGrants = [{ unit: "credits", amountMicros: 5n, expiresAtMs: m.nowMs + 1_000 }];
    m.ok(m.rollOver({ signupGrants }));
    m.ok(m.nextCycle());
    m.ok(m.rollOver({ signupGrants }));
    expect([...m.account.pools.values()].filter((p) => p.kind === "free_grant")).toHaveLength(1);
  });

  it("gives one sign-up grant per unit when a plan names the unit twice (the first)", () => {
    const m = Machine.open();
    const expiresAtMs = m.nowMs + 1_000;
    m.ok(m.rollOver({ signupGrants: [{ unit: "credits", amountMicros: 5n, expiresAtMs }, { unit: "credits", amountMicros: 7n, expiresAtMs }] }));
    expect([...m.account.pools.values()].filter((p) => p.kind === "free_grant").map((p) => p.grantedMicros)).toEqual([5n]);
  });

  it("records the trace of the call that rolled the cycle on what it writes by itself: the allotment, the lapse, an expiry", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    m.ok(m.grant(5n, { expiresAtMs: m.nowMs + 10 }));
    m.trace = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
    const before = m.entries.length;
    m.ok(m.nextCycle());
    const written = m.entries.slice(before);
    expect(written.map((e) => e.kind).sort()).toEqual(["expire", "grant", "reset"]);
    expect(written.every((e) => e.traceId === m.trace!.traceId)).toBe(true);
    expect(m.events.filter((e) => e.kind === "pool_expired").map((e) => e.traceparent)).toEqual([m.trace.traceparent]);
  });
});

describe("rollover and reversals", () => {
  it("gives a reversal of an earlier cycle's charge back to a carried pool as granted too, so the cycle's usage stays at zero", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(300n, { kind: "add_on" }));
    const charged = m.ok(m.charge(240n));
    m.ok(m.nextCycle());
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 60n, grantedMicros: 60n });
    m.ok({ type: "reverse", accountId: "acct", entryId: charged.entryId, reason: "refund", actor: "support", idempotencyKey: "rev", requestHash: "rev", traceId: "" });
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 300n, grantedMicros: 300n });
  });

  const reverse = (m: Machine, entryId: bigint) => m.ok({ type: "reverse", accountId: "acct", entryId, reason: "refund", actor: "support", idempotencyKey: `rev:${entryId}`, requestHash: "rev", traceId: "" });

  it("counts a charge made after the cycle's start but before the cycle was opened (a metering tick) as the earlier cycle's", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(300n, { kind: "add_on" }));
    m.nowMs = m.cycleStartMs + CYCLE_MS + 60_000; // the new cycle has started; nothing has opened it yet
    const ticked = m.ok(m.charge(240n));
    m.nowMs += 60_000;
    m.ok(m.nextCycle());
    expect(m.account.cycle).toMatchObject({ startMs: m.cycleStartMs, openedAtMs: m.nowMs });
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 60n, grantedMicros: 60n });
    m.ok(m.charge(30n)); // this cycle's usage
    reverse(m, ticked.entryId);
    // Given again as granted: this cycle's usage stays the 30 it used.
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 270n, grantedMicros: 300n });
    const openedAtMs = m.account.cycle!.openedAtMs;
    m.nowMs += 60_000;
    m.ok(m.rollOver()); // the same cycle again, later: opened when it was
    expect(m.account.cycle!.openedAtMs).toBe(openedAtMs);
  });

  it("never takes a carried pool's usage below zero, for a cycle opened before its opening was recorded", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(300n, { kind: "add_on" }));
    m.nowMs = m.cycleStartMs + CYCLE_MS + 60_000;
    const ticked = m.ok(m.charge(240n));
    m.ok(m.nextCycle());
    delete m.account.cycle!.openedAtMs;
    m.ok(m.charge(30n));
    reverse(m, ticked.entryId);
    // Of the 240 returned, the 30 used this cycle is usage undone; the rest is given again.
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 270n, grantedMicros: 270n });
  });
});
