import { describe, expect, it } from "vitest";
import { emptyAccount, type AccountState } from "../state.js";
import { pool } from "../fixtures.js";
import { roomExhausted } from "./room-exhausted.js";

function account(pools: { id: string; balanceMicros: bigint; expiresAtMs?: number; closed?: boolean }[], heldMicros: bigint, negativeLimitMicros: bigint): AccountState {
  const a = emptyAccount("acct");
  a.units.set("credits", { unit: "credits", negativeLimitMicros, lowCreditLimitMicros: 0n, heldMicros, crossedPercents: [] });
  for (const p of pools) a.pools.set(p.id, pool({ poolId: p.id, balanceMicros: p.balanceMicros, expiresAtMs: p.expiresAtMs ?? null, closed: p.closed ?? false }));
  return a;
}

describe("room exhausted", () => {
  it("signals a unit left with no room (live pools − held + negative limit ≤ 0) after a batch took money from one of its pools", () => {
    expect(roomExhausted(account([{ id: "m", balanceMicros: -5n }], 0n, 5n), new Map([["m", 10n]]), 0)).toEqual([{ accountId: "acct", unit: "credits", roomMicros: 0n }]);
    // Holds count against the room; an expired or closed pool counts for nothing.
    expect(roomExhausted(account([{ id: "m", balanceMicros: 3n }, { id: "b", balanceMicros: 9n, expiresAtMs: 100 }, { id: "c", balanceMicros: 4n, closed: true }], 4n, 0n), new Map([["m", 10n]]), 100))
      .toEqual([{ accountId: "acct", unit: "credits", roomMicros: -1n }]);
  });

  it("says nothing while room is left, when no pool's balance fell, or for a unit with no balance row", () => {
    expect(roomExhausted(account([{ id: "m", balanceMicros: 1n }], 0n, 0n), new Map([["m", 10n]]), 0)).toEqual([]);
    expect(roomExhausted(account([{ id: "m", balanceMicros: -5n }], 0n, 5n), new Map([["m", -5n]]), 0)).toEqual([]);
    const noRow = account([{ id: "m", balanceMicros: -5n }], 0n, 0n);
    noRow.units.clear();
    expect(roomExhausted(noRow, new Map([["m", 10n]]), 0)).toEqual([]);
  });
});
