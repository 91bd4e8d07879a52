import { describe, expect, it } from "vitest";
import { emptyAccount, type AccountState } from "../state.js";
import { pool } from "../fixtures.js";
import { spendCapReached } from "./spend-cap-reached.js";

const CYCLE_MS = Date.UTC(2026, 10, 1);

function account(balanceMicros: bigint, fields: { closed?: boolean; kind?: "spend_cap" | "monthly" } = {}): AccountState {
  const a = emptyAccount("byom");
  a.cycle = { planId: "byom", planVersion: 1n, startMs: CYCLE_MS, endMs: CYCLE_MS + 1 };
  a.pools.set("cap", pool({ poolId: "cap", accountId: "byom", unit: "usd", kind: fields.kind ?? "spend_cap", balanceMicros, grantedMicros: 1_000_000n, closed: fields.closed ?? false }));
  return a;
}

describe("spend cap reached", () => {
  it("emits the cap, what was spent and the cycle when a batch takes the cap pool from above zero to zero or below", () => {
    expect(spendCapReached(account(0n), new Map([["cap", 400_000n]]))).toEqual([
      { accountId: "byom", kind: "spend_cap_reached", traceparent: "", payload: { cap_micros: "1000000", spent_micros: "1000000", cycle: "2026-11-01T00:00:00.000Z" } },
    ]);
    expect(spendCapReached(account(-5n), new Map([["cap", 1n]]))[0]?.payload).toMatchObject({ spent_micros: "1000005" });
  });

  it("says nothing while the cap has money left, once it was already at zero, for a pool the batch did not touch, or for a closed or other pool", () => {
    expect(spendCapReached(account(1n), new Map([["cap", 400_000n]]))).toEqual([]);
    expect(spendCapReached(account(-3n), new Map([["cap", 0n]]))).toEqual([]);
    expect(spendCapReached(account(0n), new Map())).toEqual([]);
    expect(spendCapReached(account(0n, { closed: true }), new Map([["cap", 5n]]))).toEqual([]);
    expect(spendCapReached(account(0n, { kind: "monthly" }), new Map([["cap", 5n]]))).toEqual([]);
  });
});
