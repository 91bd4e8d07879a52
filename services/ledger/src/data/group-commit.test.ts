import { describe, expect, it } from "vitest";
import type { Command, Result } from "../domain/commands.js";
import { MemoryLedgerStore } from "../domain/memory-store.js";
import { execute } from "../domain/state-machine.js";
import type { Ids, LedgerState } from "../domain/state.js";
import type { LedgerStateStore } from "../domain/store.js";
import type { Write } from "../domain/writes.js";
import { CallerGoneError, GroupCommitStore, laneOf } from "./group-commit.js";

/** A store whose transactions wait until the test lets them through, and that refuses any transaction carrying a poisoned key. */
class ControlledStore implements LedgerStateStore {
  readonly memory = new MemoryLedgerStore();
  readonly transactions: string[][] = [];
  private gates: (() => void)[] = [];
  held = true;

  async transact<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): Promise<T> {
    this.transactions.push(commands.flatMap((c) => ("idempotencyKey" in c ? [c.idempotencyKey] : [])));
    if (this.held) await new Promise<void>((resolve) => this.gates.push(resolve));
    if (commands.some((c) => "idempotencyKey" in c && c.idempotencyKey.startsWith("poison"))) throw Object.assign(new Error("check constraint violated"), { code: "23514" });
    return this.memory.transact(commands, decide);
  }

  /** Lets every waiting transaction through. */
  open(): void {
    this.held = false;
    for (const gate of this.gates.splice(0)) gate();
  }
}

const open = (accountId: string): Command => ({
  type: "rollOver", accountId, planId: "p", planVersion: 1n, cycleStartMs: 0, cycleEndMs: 1_000_000,
  units: [{ unit: "credits", allotmentMicros: 100n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }], signupGrants: [],
});
const charge = (accountId: string, key: string, amountMicros: bigint): Command => ({
  type: "charge", accountId, holdId: null, unit: "credits", bucket: "ai", amountMicros, final: true, idempotencyKey: key, requestHash: key,
  attribution: {}, rateTableVersion: 1n, traceparent: "", traceId: "",
});

/** A call as the use cases make one: its commands, decided alone on the state it is handed. */
function call(store: LedgerStateStore, commands: Command[], options: { throws?: boolean } = {}): Promise<Result<unknown>> {
  return store.transact(commands, (state, ids) => {
    if (options.throws) throw new Error("a bug in this call's rule");
    const batch = execute(state, commands, { nowMs: 10, ids });
    return { value: batch.outcomes[batch.outcomes.length - 1]!.result, writes: batch.writes };
  });
}

const charged = (result: Result<unknown>) => (result.ok ? (result.value as { chargedMicros: bigint }).chargedMicros : result.error.reason);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("group commit", () => {
  it("sends a call alone when its lane is idle, and what queued meanwhile as one transaction deciding each call on the state the last one left", async () => {
    const inner = new ControlledStore();
    inner.open();
    await call(inner, [open("hot")]);
    inner.held = true;
    const group = new GroupCommitStore(inner, { lanes: 1 });
    const first = call(group, [charge("hot", "k0", 10n)]);
    const queued = [1, 2, 3, 4].map((i) => call(group, [charge("hot", `k${i}`, 30n)]));
    await tick();
    expect(inner.transactions.slice(1)).toEqual([["k0"]]); // the others wait for the lane
    inner.open();
    expect(charged(await first)).toBe(10n);
    expect((await Promise.all(queued)).map(charged)).toEqual([30n, 30n, 30n, 0n]); // 90 left: the fourth finds nothing
    expect(inner.transactions.slice(1)).toEqual([["k0"], ["k1", "k2", "k3", "k4"]]);
    expect((await inner.memory.entries("hot")).filter((e) => e.kind === "charge").map((e) => e.amountMicros)).toEqual([10n, 30n, 30n, 30n, 0n]);
  });

  it("answers a call whose decision throws with its error, and commits its neighbours", async () => {
    const inner = new ControlledStore();
    inner.open();
    await call(inner, [open("a")]);
    inner.held = true;
    const group = new GroupCommitStore(inner, { lanes: 1 });
    const first = call(group, [charge("a", "first", 1n)]);
    const calls = [call(group, [charge("a", "x", 5n)]), call(group, [charge("a", "y", 5n)], { throws: true }), call(group, [charge("a", "z", 5n)])];
    await tick();
    inner.open();
    await first;
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((await inner.memory.entries("a")).filter((e) => e.kind === "charge")).toHaveLength(3);
  });

  it("splits a batch the database refuses and tries the halves again, so only the call that fails alone fails", async () => {
    const inner = new ControlledStore();
    inner.open();
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => call(inner, [open(id)])));
    inner.held = true;
    const group = new GroupCommitStore(inner, { lanes: 1 });
    const first = call(group, [charge("a", "first", 1n)]);
    const calls = ["a", "b", "poison-c", "d", "e"].map((key) => call(group, [charge(key.replace("poison-", ""), key, 2n)]));
    await tick();
    inner.open();
    await first;
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(inner.transactions.slice(5)).toEqual([["first"], ["a", "b", "poison-c", "d", "e"], ["a", "b", "poison-c"], ["a", "b"], ["poison-c"], ["d", "e"]]);
    for (const id of ["a", "b", "d", "e"]) expect((await inner.memory.entries(id)).filter((e) => e.kind === "charge").length).toBeGreaterThan(0);
    expect((await inner.memory.entries("c")).filter((e) => e.kind === "charge")).toEqual([]);
  });

  it("makes a call wait for its own account's lane only", async () => {
    const inner = new ControlledStore();
    inner.open();
    const a = "account-a";
    const b = Array.from({ length: 50 }, (_, i) => `account-${i}`).find((id) => laneOf(id, 8) !== laneOf(a, 8))!;
    await Promise.all([call(inner, [open(a)]), call(inner, [open(b)])]);
    inner.held = true;
    const group = new GroupCommitStore(inner, { lanes: 8 });
    const a1 = call(group, [charge(a, "a1", 1n)]);
    const a2 = call(group, [charge(a, "a2", 1n)]);
    const b1 = call(group, [charge(b, "b1", 1n)]);
    await tick();
    expect(inner.transactions.slice(2)).toEqual([["a1"], ["b1"]]); // a2 waits behind a1; b1 did not wait for a's lane
    inner.open();
    await Promise.all([a1, a2, b1]);
    expect(inner.transactions.slice(2)).toEqual([["a1"], ["b1"], ["a2"]]);
  });

  it("refuses a call at once (UNAVAILABLE, nothing written) while its lane has as many calls waiting as it may hold", async () => {
    const inner = new ControlledStore();
    inner.open();
    await call(inner, [open("acme")]);
    inner.held = true;
    const group = new GroupCommitStore(inner, { lanes: 1, maxQueued: 2 });
    const running = call(group, [charge("acme", "k1", 1n)]); // in its transaction, held
    await tick();
    const waiting = [call(group, [charge("acme", "k2", 1n)]), call(group, [charge("acme", "k3", 1n)])];
    await expect(call(group, [charge("acme", "k4", 1n)])).rejects.toMatchObject({ kind: "unavailable", reason: "LEDGER_BUSY" });
    inner.open();
    expect((await Promise.all([running, ...waiting])).map(charged)).toEqual([1n, 1n, 1n]);
    // Once the lane drains, the refused call goes through when sent again.
    expect(charged(await call(group, [charge("acme", "k4", 1n)]))).toBe(1n);
  });

  it("answers a queued call whose client went away CALLER_GONE at its turn, deciding and writing nothing of it; its neighbours go on", async () => {
    const inner = new ControlledStore();
    inner.open();
    await call(inner, [open("gone")]);
    inner.held = true;
    let current: { cancelled: boolean } | undefined;
    const group = new GroupCommitStore(inner, { lanes: 1, callOf: () => current });
    const calls = [0, 1, 2].map(() => ({ cancelled: false }));
    const answers = calls.map((c, i) => {
      current = c;
      return call(group, [charge("gone", `g${i}`, 10n)]).catch((error: unknown) => error);
    });
    current = undefined;
    await tick();
    calls[1]!.cancelled = true; // its client cancels while the first call's transaction runs
    inner.open();
    const [first, gone, third] = await Promise.all(answers);
    expect(charged(first as Result<unknown>)).toBe(10n);
    expect(gone).toBeInstanceOf(CallerGoneError);
    expect(charged(third as Result<unknown>)).toBe(10n);
    expect(inner.transactions.slice(1)).toEqual([["g0"], ["g2"]]); // after the account's opening
  });
});
