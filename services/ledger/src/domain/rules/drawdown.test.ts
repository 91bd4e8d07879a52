import { describe, expect, it } from "vitest";
import { pool } from "../fixtures.js";
import { drawDown, drawdownOrder } from "./drawdown.js";

describe("draw-down order", () => {
  it("puts the cycle's pool first, then the plan's kinds, priority, expiry, age", () => {
    const pools = [
      pool({ poolId: "free", kind: "free_grant" }),
      pool({ poolId: "bonus-late", kind: "bonus", priority: 2 }),
      pool({ poolId: "bonus-forever", kind: "bonus", priority: 1 }),
      pool({ poolId: "bonus-soon", kind: "bonus", priority: 1, expiresAtMs: 50 }),
      pool({ poolId: "addon-new", kind: "add_on", createdAtMs: 2 }),
      pool({ poolId: "addon-old", kind: "add_on", createdAtMs: 1 }),
      pool({ poolId: "monthly", kind: "monthly", expiresAtMs: 10 }),
    ];
    expect(drawdownOrder(pools, ["add_on", "bonus"]).map((p) => p.poolId)).toEqual([
      "monthly", "addon-old", "addon-new", "bonus-soon", "bonus-forever", "bonus-late", "free",
    ]);
  });

  it("treats a spend cap like the monthly pool", () => {
    const order = drawdownOrder([pool({ poolId: "b", kind: "bonus" }), pool({ poolId: "cap", kind: "spend_cap", unit: "usd" })], []);
    expect(order[0]!.poolId).toBe("cap");
  });
});

describe("drawing an amount", () => {
  const ordered = [pool({ poolId: "m", balanceMicros: 5n }), pool({ poolId: "a", balanceMicros: -2n }), pool({ poolId: "b", balanceMicros: 3n })];

  it("takes what each pool has, in order, skipping pools at or below zero", () => {
    expect(drawDown(ordered, 7n)).toEqual([{ poolId: "m", takeMicros: 5n }, { poolId: "b", takeMicros: 2n }]);
  });

  it("adds an overdraft to the first pool's own draw: one draw per pool", () => {
    expect(drawDown(ordered, 12n)).toEqual([{ poolId: "m", takeMicros: 9n }, { poolId: "b", takeMicros: 3n }]);
  });

  it("puts an overdraft on the first pool even when it had nothing", () => {
    expect(drawDown([pool({ poolId: "m", balanceMicros: -1n }), pool({ poolId: "b", balanceMicros: 1n })], 3n)).toEqual([
      { poolId: "m", takeMicros: 2n }, { poolId: "b", takeMicros: 1n },
    ]);
  });

  it("draws nothing for nothing, and has no answer for an overdraft without pools", () => {
    expect(drawDown(ordered, 0n)).toEqual([]);
    expect(drawDown([], 0n)).toEqual([]);
    expect(drawDown([], 1n)).toBeNull();
  });
});
