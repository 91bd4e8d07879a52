import { describe, expect, it } from "vitest";
import { Machine, pool } from "../fixtures.js";
import { unitTotals } from "../balance.js";
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

  it("does not write off a pool's debt when it expires: the debt moves to the pool that lives on, or stays counted until there is one", () => {
    const account = emptyAccount("acct");
    account.pools.set("free", pool({ poolId: "free", kind: "free_grant", balanceMicros: -30n, grantedMicros: 50n, expiresAtMs: 100 }));
    const ids = () => { let entry = 1n; return { entryId: () => entry++, holdId: () => "h", poolId: () => "p" }; };
    const state = new Map([["acct", account]]);
    // Past its expiry with nothing to take the debt: it stays open, and the balance still owes it.
    expect(expirePools(account, { nowMs: 100, ids: ids() })).toEqual([]);
    expect(unitTotals(account, "credits", 100).balanceMicros).toBe(-30n);
    // A pool that lives on takes it; the expired one closes at zero, with nothing lapsed.
    account.pools.set("bonus", pool({ poolId: "bonus", kind: "bonus", balanceMicros: 100n, grantedMicros: 100n, expiresAtMs: null }));
    const writes = expirePools(account, { nowMs: 200, ids: ids() });
    const entries = writes.flatMap((w) => (w.type === "entry" ? [w.entry] : []));
    expect(entries.map((e) => [e.kind, e.amountMicros, e.lines.map((l) => [l.ledgerAccount, l.amountMicros])])).toEqual([
      ["reset", -30n, [["pool:free", 30n], ["pool:bonus", -30n]]],
      ["expire", 0n, []],
    ]);
    expect(writes.find((w) => w.type === "outbox")).toMatchObject({ event: { kind: "pool_expired", payload: { expired_micros: "0" } } });
    applyWrites(state, writes);
    expect(account.pools.get("free")).toMatchObject({ closed: true, balanceMicros: 0n });
    expect(account.pools.get("bonus")!.balanceMicros).toBe(70n);
    expect(unitTotals(account, "credits", 200).balanceMicros).toBe(70n);
  });

  it("keeps an overdraft on an expiring free grant owed through its expiry, and pays it from the next grant", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 40n });
    const free = m.ok(m.grant(50n, { kind: "free_grant", expiresAtMs: m.nowMs + 1_000 }));
    m.ok(m.charge(80n)); // 50 from the grant, 30 over it, carried by it
    m.nowMs += 2_000;
    m.ok(m.charge(1n)); // its expiry runs first: nothing lives on to take the debt
    expect(m.account.pools.get(free.poolId)).toMatchObject({ closed: false, balanceMicros: -31n });
    expect(unitTotals(m.account, "credits", m.nowMs).balanceMicros).toBe(-31n);
    // 9 of room left, not 40; the sign-up credits are past their expiry, and the denial says so.
    expect(m.ok(m.authorize(10n))).toMatchObject({ allowed: false, reason: "FREE_CREDITS_EXPIRED" });
    const bonus = m.ok(m.grant(100n, { kind: "bonus" }));
    m.ok(m.charge(1n));
    expect(m.account.pools.get(free.poolId)).toMatchObject({ closed: true, balanceMicros: 0n });
    expect(m.account.pools.get(bonus.poolId)!.balanceMicros).toBe(68n);
    expect(m.entries.filter((e) => e.kind === "reset").map((e) => e.amountMicros)).toEqual([-31n]);
  });

  it("keeps a pool that owes past its expiry open for its debt alone: no reload, no more back than it owes, none of its grant counted", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 100n });
    const reload = { belowMicros: 20n, toMicros: 50n, cooldownMs: 10_000 };
    const addOn = m.ok(m.grant(50n, { kind: "add_on", expiresAtMs: m.nowMs + 1_000, reload }));
    m.ok(m.charge(40n)); // 10 left: reloads to 50, its cool-down starts
    const big = m.ok(m.charge(80n)); // 50, and 30 over it, carried by it
    m.nowMs += 20_000; // past its expiry and its cool-down
    const small = m.ok(m.charge(1n));
    expect(m.entries.filter((e) => e.reason === "add-on auto reload")).toHaveLength(1); // credits bought now would lapse at once
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ closed: false, balanceMicros: -31n });
    expect(unitTotals(m.account, "credits", m.nowMs)).toMatchObject({ balanceMicros: -31n, grantedMicros: 0n });
    const reverse = (entryId: bigint) => m.run({ type: "reverse", accountId: "acct", entryId, reason: "refund", actor: "support", idempotencyKey: `rev:${entryId}`, requestHash: "rev", traceId: "" })[0]!;
    expect(reverse(big.entryId)).toMatchObject({ ok: false, error: { reason: "POOL_CLOSED" } }); // 80 back would leave 49 to lapse
    expect(reverse(small.entryId)).toMatchObject({ ok: true });
    const adjust = (amountMicros: bigint) => m.run(m.adjust(addOn.poolId, amountMicros))[0]!;
    expect(adjust(-5n)).toMatchObject({ ok: false, error: { reason: "POOL_CLOSED" } });
    expect(adjust(31n)).toMatchObject({ ok: false, error: { reason: "POOL_CLOSED" } });
    expect(adjust(30n)).toMatchObject({ ok: true }); // support forgives the debt
    m.ok(m.grant(10n, { kind: "bonus" })); // its expiry closes it at zero
    expect(m.account.pools.get(addOn.poolId)).toMatchObject({ closed: true, balanceMicros: 0n });
  });
});
