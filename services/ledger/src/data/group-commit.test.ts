import { describe, expect, it } from "vitest";
import { translateDatabaseError, IdempotencyKeyReusedError } from "@tollgate/errors";
import { GroupCommit, laneOf, type BatchCall } from "./group-commit.js";

/** A database stand-in whose transactions finish when the test says so. */
function controlledBatches() {
  const batches: { calls: BatchCall[]; finish: (slots: unknown[]) => void; fail: (error: Error) => void }[] = [];
  const applyBatch = (calls: BatchCall[]) =>
    new Promise<any[]>((resolve, reject) => batches.push({ calls, finish: resolve, fail: reject }));
  return { batches, applyBatch };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("group commit", () => {
  it("sends a call alone when its lane is idle, and what queued meanwhile as one batch sorted by account", async () => {
    const { batches, applyBatch } = controlledBatches();
    const group = new GroupCommit(applyBatch, { lanes: 1 });
    let releaseFirst!: (value: string) => void;
    const first = group.submit({ op: "charge", account: "m" }, () => new Promise<string>((resolve) => (releaseFirst = resolve)));
    const queued = ["z", "a", "k"].map((account) => group.submit({ op: "authorize", account, unit: "credits" }, () => Promise.reject(new Error("not alone"))));
    const usd = group.submit({ op: "charge", account: "a", unit: "usd" }, () => Promise.reject(new Error("not alone")));
    const credits = group.submit({ op: "charge", account: "a", unit: "credits" }, () => Promise.reject(new Error("not alone")));
    await tick();
    expect(batches).toHaveLength(0); // the lane's transaction is still in flight

    releaseFirst("alone");
    expect(await first).toBe("alone");
    await tick();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.calls.map((c) => `${c.account}/${c.unit}`)).toEqual(["a/credits", "a/credits", "a/usd", "k/credits", "z/credits"]);

    batches[0]!.finish([{ ok: "for a" }, { ok: "a credits charge" }, { ok: "a usd charge" }, { ok: "for k" }, { error: { code: "P0001", message: "IDEMPOTENCY_KEY_REUSED: key-z" } }]);
    expect(await usd).toBe("a usd charge");
    expect(await credits).toBe("a credits charge");
    const [z, a, k] = await Promise.allSettled(queued);
    expect(a).toEqual({ status: "fulfilled", value: "for a" });
    expect(k).toEqual({ status: "fulfilled", value: "for k" });
    expect(z!.status).toBe("rejected");
    // The slot's error keeps PostgreSQL's code, so the edge maps it like any other database error.
    expect(translateDatabaseError((z as PromiseRejectedResult).reason)).toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it("rejects every call of a transaction that failed as a whole", async () => {
    const { batches, applyBatch } = controlledBatches();
    const group = new GroupCommit(applyBatch, { lanes: 1 });
    let releaseFirst!: () => void;
    const first = group.submit({ op: "charge", account: "a" }, () => new Promise<void>((resolve) => (releaseFirst = resolve)));
    const queued = [group.submit({ op: "charge", account: "b" }, async () => "b"), group.submit({ op: "charge", account: "c" }, async () => "c")];
    releaseFirst();
    await first;
    await tick();
    batches[0]!.fail(new Error("connection terminated"));
    const results = await Promise.allSettled(queued);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("makes a call wait for its own account's lane only", async () => {
    const { batches, applyBatch } = controlledBatches();
    const group = new GroupCommit(applyBatch, { lanes: 8 });
    const a = "account-a";
    const b = Array.from({ length: 50 }, (_, i) => `account-${i}`).find((id) => laneOf(id, 8) !== laneOf(a, 8))!;
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const alone = (name: string) => () => new Promise<string>((resolve) => { started.push(name); releases.set(name, () => resolve(name)); });

    const a1 = group.submit({ op: "authorize", account: a }, alone("a1"));
    const a2 = group.submit({ op: "charge", account: a }, alone("a2"));
    const b1 = group.submit({ op: "authorize", account: b }, alone("b1"));
    await tick();
    expect(started).toEqual(["a1", "b1"]); // a2 waits behind a1; b1 did not wait for a's lane
    releases.get("b1")!();
    expect(await b1).toBe("b1");
    releases.get("a1")!();
    expect(await a1).toBe("a1");
    await tick();
    expect(started).toEqual(["a1", "b1", "a2"]);
    releases.get("a2")!();
    expect(await a2).toBe("a2");
    expect(batches).toHaveLength(0);
  });
});
