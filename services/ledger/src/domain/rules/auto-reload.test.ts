import { describe, expect, it } from "vitest";
import { Machine } from "../fixtures.js";

describe("auto reload", () => {
  it("tops an add-on pool up to its target after a charge drew it below its level, once per cool-down", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(50n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 } }));
    expect(m.ok(m.charge(20n)).balanceMicros).toBe(30n);
    expect(m.ok(m.charge(15n)).balanceMicros).toBe(50n);
    const reloads = m.entries.filter((e) => e.reason === "add-on auto reload");
    expect(reloads.map((e) => e.lines.map((l) => [l.ledgerAccount, l.amountMicros]))).toEqual([[[`pool:${addOn.poolId}`, 35n], ["purchases:acct", -35n]]]);
    expect(m.events.filter((e) => e.kind === "pool_reloaded").map((e) => e.payload)).toEqual([{ pool_id: addOn.poolId, unit: "credits", amount_micros: "35" }]);
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 50n, grantedMicros: 85n, reloadedAtMs: m.nowMs });

    expect(m.ok(m.charge(40n)).balanceMicros).toBe(10n); // within the cool-down
    m.nowMs += 1_000;
    expect(m.ok(m.charge(1n)).balanceMicros).toBe(50n);
  });

  it("bills each reload's whole units at the pool's price, rounded half up", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    // $0.01 a credit: a reload of 0.35 credits is 3,500 micro-dollars; of 50 micro-credits half a micro-dollar, rounded up; of 49, rounded down.
    const addOn = m.ok(m.grant(1_000_000n, { kind: "add_on", reload: { belowMicros: 999_999n, toMicros: 1_000_000n, cooldownMs: 0 }, reloadPriceUsdMicros: 10_000n }));
    m.ok(m.charge(350_000n));
    m.ok(m.charge(50n));
    m.ok(m.charge(49n));
    expect(m.events.filter((e) => e.kind === "pool_reloaded").map((e) => e.payload)).toEqual([
      { pool_id: addOn.poolId, unit: "credits", amount_micros: "350000", price_usd_micros: "3500" },
      { pool_id: addOn.poolId, unit: "credits", amount_micros: "50", price_usd_micros: "1" },
      { pool_id: addOn.poolId, unit: "credits", amount_micros: "49", price_usd_micros: "0" },
    ]);
  });

  it("reloads a pool below its level at the next call for its unit, whichever pool the call draws from", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    const addOn = m.ok(m.grant(10n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 0 } }));
    m.ok(m.charge(5n)); // drawn from the monthly pool
    expect(m.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.amountMicros)).toEqual([40n]);
    expect(m.account.pools.get(addOn.poolId)!.balanceMicros).toBe(50n);
  });

  it("reloads a pool drained to zero during its cool-down at the first Authorize after it, before deciding, with the call's trace", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(50n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 } }));
    expect(m.ok(m.charge(35n)).balanceMicros).toBe(50n); // reloaded: the cool-down starts
    expect(m.ok(m.charge(50n)).balanceMicros).toBe(0n); // drained within it: no draw touches a pool at zero again
    expect(m.ok(m.authorize(10n))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS" });

    m.nowMs += 1_000;
    const command = m.authorize(10n, { traceId: "trace-1", traceparent: "00-trace-1-span-01" });
    const allowed = m.ok(command);
    expect(allowed).toMatchObject({ allowed: true, availableMicros: 40n });
    const reloads = m.entries.filter((e) => e.reason === "add-on auto reload");
    expect(reloads.map((e) => [e.amountMicros, e.traceId])).toEqual([[35n, ""], [50n, "trace-1"]]);
    expect(m.events.filter((e) => e.kind === "pool_reloaded").at(-1)).toMatchObject({ traceparent: "00-trace-1-span-01", payload: { pool_id: addOn.poolId, amount_micros: "50" } });
    // Replayed, the Authorize answers the same and buys nothing more.
    expect(m.ok(command)).toEqual(allowed);
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toHaveLength(2);
  });

  it("reloads before a charge larger than what is left, and collects the rest from what it bought: nothing uncollected, the work goes on", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(30n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 } }));
    // Drawn dry on the way (30), the add-on buys 50 and the charge takes its last 10 from them.
    expect(m.ok(m.charge(40n))).toMatchObject({ chargedMicros: 40n, uncollectedMicros: 0n, balanceMicros: 40n, proceed: true });
    expect(m.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.amountMicros)).toEqual([50n]);
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 40n, grantedMicros: 80n, reloadedAtMs: m.nowMs });
    // Still short after the reload: one purchase per pool per call, however short.
    const zeroCooldown = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    zeroCooldown.ok(zeroCooldown.grant(30n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 0 } }));
    expect(zeroCooldown.ok(zeroCooldown.charge(500n))).toMatchObject({ chargedMicros: 80n, uncollectedMicros: 420n, balanceMicros: 0n, proceed: false });
    expect(zeroCooldown.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.amountMicros)).toEqual([50n]);
    // In its cool-down, a charge larger than what is left is short as before.
    expect(m.ok(m.charge(45n))).toMatchObject({ chargedMicros: 40n, uncollectedMicros: 5n, proceed: false });
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toHaveLength(1);
  });

  it("does not reload ahead of a charge short because other holds reserve the balance: the add-on is not drained, nor below its level", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    m.ok(m.grant(100n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 0 } }));
    expect(m.ok(m.authorize(90n)).allowed).toBe(true); // another hold reserves 90 of the 100
    expect(m.ok(m.charge(40n))).toMatchObject({ chargedMicros: 10n, uncollectedMicros: 30n });
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toEqual([]); // 90 left in the pool: above its level
  });

  it("does not reload ahead of a charge that a hard budget cuts short: the budget, not the balance, stops it", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    m.ok(m.grant(30n, { kind: "add_on", reload: { belowMicros: 5n, toMicros: 50n, cooldownMs: 0 } }));
    m.ok(m.setBudget(10n)); // a hard budget on agent-1
    expect(m.ok(m.charge(40n, { attribution: { agent_id: "agent-1" } }))).toMatchObject({ chargedMicros: 10n, proceed: false });
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toHaveLength(0); // 20 left: above its level
  });

  it("reloads several pools oldest first, whatever order the store read them in", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const reload = { belowMicros: 20n, toMicros: 50n, cooldownMs: 0 };
    const older = m.ok(m.grant(10n, { kind: "add_on", reload }));
    const newer = m.ok(m.grant(10n, { kind: "add_on", reload }));
    m.account.pools = new Map([...m.account.pools].reverse()); // as a store reading newest first would hand them over
    m.ok(m.charge(15n));
    const reloaded = m.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.lines[0]!.poolId);
    expect(reloaded).toEqual([older.poolId, newer.poolId]);
  });
});

describe("auto reload and the thresholds", () => {
  it("says the 100 % crossing receded when a reload after the cool-down gives room again", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n, facts: { thresholdPercents: [100] } });
    m.ok(m.grant(50n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 } }));
    m.ok(m.charge(35n)); // reloads to 50: 35 of 85
    m.ok(m.charge(50n)); // 85 of 85 within the cool-down: 100 % crossed
    expect(m.events.filter((e) => e.kind === "threshold_crossed").map((e) => e.payload.threshold_percent)).toEqual([100]);
    m.nowMs += 1_000;
    expect(m.ok(m.authorize(10n)).allowed).toBe(true); // reloads 50: 85 of 135
    expect(m.events.at(-1)).toMatchObject({ kind: "usage_receded", payload: { threshold_percents: [100], percent_used: 62 } });
  });
});

describe("auto reload and support", () => {
  it("turns a pool's reload off when an Adjust takes it below its level: a purchase taken back is not bought again", () => {
    const m = Machine.open({ allotmentMicros: 100n });
    const addOn = m.ok(m.grant(50n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 0 } }));
    expect(m.ok(m.adjust(addOn.poolId, -50n))).toMatchObject({ reloadStopped: true });
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ balanceMicros: 0n, reload: null });
    expect(m.ok(m.authorize(10n)).allowed).toBe(true); // from the monthly pool
    m.ok(m.charge(10n));
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toEqual([]);
  });

  it("keeps the reload of a pool already below its level (drained in its cool-down) and of one an Adjust leaves at its level", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const reload = { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 };
    const drained = m.ok(m.grant(50n, { kind: "add_on", reload }));
    m.ok(m.charge(40n)); // reloads to 50: its cool-down starts
    m.ok(m.charge(45n)); // 5 left, below its level, in the cool-down
    const answer = m.ok(m.adjust(drained.poolId, -5n));
    expect(answer.reloadStopped).toBeUndefined();
    expect(m.account.pools.get(drained.poolId)).toMatchObject({ balanceMicros: 0n, reload });
    const kept = m.ok(m.grant(50n, { kind: "add_on", reload }));
    expect(m.ok(m.adjust(kept.poolId, -30n)).reloadStopped).toBeUndefined(); // 20 left: at its level
    expect(m.account.pools.get(kept.poolId)!.reload).toEqual(reload);
    m.nowMs += 1_000;
    m.ok(m.authorize(1n)); // after the cool-down: the drained pool reloads
    expect(m.account.pools.get(drained.poolId)!.balanceMicros).toBe(50n);
  });

  it("stops the reload of a pool below its level out of its cool-down when an Adjust takes more back: the next call would buy it", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const addOn = m.ok(m.grant(50n, { kind: "add_on", reload: { belowMicros: 20n, toMicros: 50n, cooldownMs: 1_000 } }));
    m.ok(m.charge(40n)); // reloads to 50: its cool-down starts
    m.ok(m.charge(45n)); // 5 left
    m.nowMs += 1_000; // out of its cool-down: the next Authorize or Charge reloads it
    expect(m.ok(m.adjust(addOn.poolId, -5n))).toMatchObject({ reloadStopped: true });
    expect(m.account.pools.get(addOn.poolId)!.reload).toBeNull();
    m.run(m.authorize(1n));
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toHaveLength(1);
  });
});
