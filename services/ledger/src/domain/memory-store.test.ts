import { describe, expect, it } from "vitest";
import type { Command } from "./commands.js";
import { MemoryLedgerStore } from "./memory-store.js";
import { execute } from "./state-machine.js";
import { describeLedgerStateStore } from "./store-contract.js";

const open: Command = {
  type: "rollOver", accountId: "acct", planId: "p", planVersion: 1n, cycleStartMs: 0, cycleEndMs: 1_000,
  units: [{ unit: "credits", allotmentMicros: 100n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }], signupGrants: [],
};
const chargeOf = (key: string, amountMicros: bigint): Command => ({
  type: "charge", accountId: "acct", holdId: null, unit: "credits", bucket: "ai", amountMicros, final: true, idempotencyKey: key, requestHash: key,
  attribution: {}, rateTableVersion: 1n, traceparent: "", traceId: "",
});

function decide(store: MemoryLedgerStore, commands: Command[], nowMs = 10) {
  return store.transact(commands, (state, ids) => {
    const batch = execute(state, commands, { nowMs, ids });
    return { value: batch.outcomes.map((o) => o.result), writes: batch.writes };
  });
}

describe("the in-memory store", () => {
  it("reads an unknown account as empty, applies the writes and keeps the journal", async () => {
    const store = new MemoryLedgerStore();
    await decide(store, [open]);
    await decide(store, [chargeOf("a", 30n)]);
    expect([...(await store.account("acct"))!.pools.values()][0]).toMatchObject({ balanceMicros: 70n });
    expect((await store.entries("acct")).map((e) => [e.entryId, e.kind])).toEqual([[1n, "grant"], [2n, "charge"]]);
  });

  it("runs one transaction at a time, each seeing the last one's writes", async () => {
    const store = new MemoryLedgerStore();
    await decide(store, [open]);
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => decide(store, [chargeOf(`k${i}`, 30n)])));
    expect(results.map(([r]) => (r!.ok ? (r!.value as { chargedMicros: bigint }).chargedMicros : -1n))).toEqual([30n, 30n, 30n, 10n, 0n]);
  });

  it("applies nothing of a transaction that throws", async () => {
    const store = new MemoryLedgerStore();
    await decide(store, [open]);
    await expect(store.transact([chargeOf("x", 5n)], () => { throw new Error("boom"); })).rejects.toThrow("boom");
    await decide(store, [chargeOf("y", 5n)]);
    expect((await store.entries("acct")).map((e) => e.kind)).toEqual(["grant", "charge"]);
  });
});

describeLedgerStateStore("memory", async () => {
  const store = new MemoryLedgerStore();
  return { store, roomSignals: () => store.roomSignals };
});
