import { describe, expect, it } from "vitest";
import { pool } from "../fixtures.js";
import { emptyAccount } from "../state.js";
import { applyWrites } from "../writes.js";
import { expirePools } from "./pool-expiry.js";

describe("pool expiry", () => {
  it("closes pools past their expiry with an expire entry and a pool_expired event; the cycle's pools wait for rollover", () => {
    const account = emptyAccount("acct");
    account.pools.set("bonus", pool({ poolId: "bonus", balanceMicros: 7n, expiresAtMs: 100 }));
    account.pools.set("later", pool({ poolId: "later", balanceMicros: 7n, expiresAtMs: 101 }));
    account.pools.set("monthly", pool({ poolId: "monthly", kind: "monthly", balanceMicros: 7n, expiresAtMs: 100 }));
    let entry = 1n;
    const writes = expirePools(account, { nowMs: 100, ids: { entryId: () => entry++, holdId: () => "h", poolId: () => "p" } });
    expect(writes.map((w) => w.type)).toEqual(["entry", "poolChange", "outbox"]);
    const expire = writes[0]!.type === "entry" ? writes[0]!.entry : undefined;
    expect(expire?.lines.map((l) => [l.ledgerAccount, l.amountMicros])).toEqual([["pool:bonus", -7n], ["grants:acct", 7n]]);
    applyWrites(new Map([["acct", account]]), writes);
    expect(account.pools.get("bonus")).toMatchObject({ closed: true, balanceMicros: 0n });
    expect(account.pools.get("monthly")!.closed).toBe(false);
  });

  it("closes several pools due at once in the order they expired, then the oldest first, whatever their ids", () => {
    const account = emptyAccount("acct");
    account.pools.set("a", pool({ poolId: "a", balanceMicros: 1n, expiresAtMs: 90, createdAtMs: 5 }));
    account.pools.set("b", pool({ poolId: "b", balanceMicros: 2n, expiresAtMs: 80, createdAtMs: 9 }));
    account.pools.set("c", pool({ poolId: "c", balanceMicros: 3n, expiresAtMs: 90, createdAtMs: 1 }));
    let entry = 1n;
    const writes = expirePools(account, { nowMs: 100, ids: { entryId: () => entry++, holdId: () => "h", poolId: () => "p" } });
    expect(writes.flatMap((w) => (w.type === "poolChange" ? [w.poolId] : []))).toEqual(["b", "c", "a"]);
  });
});
