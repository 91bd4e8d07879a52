import { describe, expect, it } from "vitest";
import { Machine } from "../fixtures.js";
import { crossings, recessions } from "./thresholds.js";

describe("threshold crossings", () => {
  const base = { allottedMicros: 100n, collectedMicros: 1n, thresholdPercents: [50, 80, 100], crossedPercents: [] as number[] };

  it("emits every threshold the usage reached, once", () => {
    expect(crossings({ ...base, balanceAfterMicros: 15n })).toEqual({
      crossed: [50, 80], events: [{ thresholdPercent: 50, percentUsed: 85 }, { thresholdPercent: 80, percentUsed: 85 }],
    });
    expect(crossings({ ...base, balanceAfterMicros: 15n, crossedPercents: [50, 80] }).events).toEqual([]);
  });

  it("counts exactly reaching a threshold, and usage beyond the allotment", () => {
    expect(crossings({ ...base, balanceAfterMicros: 50n }).crossed).toEqual([50]);
    expect(crossings({ ...base, balanceAfterMicros: -20n }).events.at(-1)).toEqual({ thresholdPercent: 100, percentUsed: 120 });
  });

  it("emits nothing for a charge that collected nothing or an account with no allotment", () => {
    expect(crossings({ ...base, balanceAfterMicros: 0n, collectedMicros: 0n }).events).toEqual([]);
    expect(crossings({ ...base, balanceAfterMicros: -5n, allottedMicros: 0n }).events).toEqual([]);
  });
});

describe("threshold recessions", () => {
  it("takes out of the crossed set the thresholds usage is now below, keeping one exactly reached", () => {
    expect(recessions({ allottedMicros: 200n, balanceMicros: 100n, crossedPercents: [100, 50, 80] })).toEqual({ crossed: [50], receded: [80, 100], percentUsed: 50 });
    expect(recessions({ allottedMicros: 100n, balanceMicros: 0n, crossedPercents: [50, 100] }).receded).toEqual([]);
    expect(recessions({ allottedMicros: 0n, balanceMicros: 0n, crossedPercents: [50] }).receded).toEqual([]);
  });

  it("in the state machine: a grant after the 100 % crossing says it receded, and usage reaching 100 % again crosses it again", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 0n, facts: { thresholdPercents: [50, 100] } });
    m.ok(m.charge(100n));
    const events = () => m.events.filter((e) => e.kind === "threshold_crossed" || e.kind === "usage_receded").map((e) => [e.kind, e.payload.threshold_percent ?? e.payload.threshold_percents]);
    expect(events()).toEqual([["threshold_crossed", 50], ["threshold_crossed", 100]]);
    m.ok(m.grant(100n, { traceparent: "00-top-up-01" }));
    expect(m.events.at(-1)).toMatchObject({ kind: "usage_receded", traceparent: "00-top-up-01", payload: { unit: "credits", threshold_percents: [100], percent_used: 50 } });
    expect(m.account.units.get("credits")!.crossedPercents).toEqual([50]);
    m.ok(m.charge(1n)); // usage only: nothing recedes
    m.ok(m.charge(100n));
    expect(events()).toEqual([["threshold_crossed", 50], ["threshold_crossed", 100], ["usage_receded", [100]], ["threshold_crossed", 100]]);
  });
});

describe("thresholds after pools expire", () => {
  it("crosses what the usage now reaches when an expiry takes the unused room: the 100 % warning of a unit left with nothing, once", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 0n, facts: { thresholdPercents: [50, 100] } });
    m.ok(m.grant(100n, { expiresAtMs: m.nowMs + 1_000, priority: 1 }));
    m.ok(m.charge(170n));
    const bonus = [...m.account.pools.values()].find((p) => p.kind === "bonus")!;
    // The monthly pool is drawn first: the bonus keeps 30 of its 100; 170 of 200 used.
    expect([m.poolOf("monthly").balanceMicros, bonus.balanceMicros, m.account.units.get("credits")!.crossedPercents]).toEqual([0n, 30n, [50]]);
    m.nowMs += 1_000;
    const before = m.events.length;
    // The next call's lazy expiry: what is left of the bonus lapses, and what was used is now all there is.
    m.ok(m.charge(1n));
    const crossed = () => m.events.slice(before).filter((e) => e.kind === "threshold_crossed").map((e) => e.payload.threshold_percent);
    expect(m.events.slice(before).map((e) => e.kind)).toContain("pool_expired");
    expect(crossed()).toEqual([100]);
    m.ok(m.charge(1n));
    expect(crossed()).toEqual([100]); // once
  });

  it("is crossed by the sweeper too, and not again by the next charge", () => {
    const m = Machine.open({ allotmentMicros: 100n, negativeLimitMicros: 0n, facts: { thresholdPercents: [80] } });
    m.ok(m.grant(100n, { expiresAtMs: m.nowMs + 1_000 }));
    m.ok(m.charge(90n)); // from the monthly pool: 90 of 200
    m.nowMs += 1_000;
    const before = m.events.length;
    const swept = m.ok({ type: "expirePools", accountId: "acct" });
    expect(swept).toEqual({ expired: 1 });
    expect(m.events.slice(before).filter((e) => e.kind === "threshold_crossed").map((e) => e.payload.threshold_percent)).toEqual([80]);
    m.ok(m.charge(1n));
    expect(m.events.slice(before).filter((e) => e.kind === "threshold_crossed")).toHaveLength(1);
  });
});
