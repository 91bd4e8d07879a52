import { describe, expect, it } from "vitest";
import { Machine } from "../fixtures.js";
import { checkKey, workKey } from "./idempotency.js";

describe("idempotency", () => {
  it("needs a key of 1–128 characters", () => {
    expect(checkKey("")).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key" });
    expect(checkKey("x".repeat(129))).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key" });
    expect(checkKey("x".repeat(128))).toBeNull();
    // Characters as the request's edge check counts them: 128 emoji (256 UTF-16 units) pass, 129 do not.
    expect(checkKey("😀".repeat(128))).toBeNull();
    expect(checkKey("😀".repeat(129))).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key" });
  });

  it("refuses a caller's key with the prefix of the ledger's own keys, which the ledger's own writes may use", () => {
    for (const key of ["meter:w1:1", "meter:", workKey("w1", "open"), workKey("w".repeat(128), 1n)]) {
      expect(checkKey(key)).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key", message: expect.stringContaining('must not start with "meter:"') });
      expect(checkKey(key, "ledger")).toBeNull();
    }
    for (const key of ["meter", "Meter:w1:1", "my-meter:w1:1", "w1/meter:1"]) expect(checkKey(key)).toBeNull();
  });

  it("refuses a caller's Charge keyed like a work's write, writing nothing, so the Meter stream's first increment still charges", () => {
    const m = Machine.open();
    m.ok(m.authorize(10n, { idempotencyKey: workKey("w1", "open"), keyOwner: "ledger" }));
    const writes = m.entries.length;
    expect(m.run(m.charge(1n, { idempotencyKey: "meter:w1:1" }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "idempotency_key" } });
    expect(m.last!.writes).toEqual([]);
    expect(m.entries.length).toBe(writes);
    expect(m.ok(m.charge(1n, { idempotencyKey: workKey("w1", 1n), keyOwner: "ledger" })).chargedMicros).toBe(1n);
    // A call on a run or deployment (PauseRun, EndRun…) carries the caller's key: refused alike.
    m.ok({ type: "startWork", kind: "run", accountId: "acct", workId: "w2", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "s", requestHash: "s" });
    const tick = { type: "meter" as const, accountId: "acct", workId: "w2", fromMs: m.nowMs, toMs: m.nowMs, amountMicros: 0n, bucket: "compute", rateTableVersion: 1n, nextState: "paused", replicas: null, traceparent: "", traceId: "" };
    expect(m.run({ ...tick, call: { idempotencyKey: "meter:w2:pause", requestHash: "p", operation: "pause_run" } })[0]).toMatchObject({ ok: false, error: { field: "idempotency_key" } });
    expect(m.account.work.get("w2")?.state).toBe("running");
  });

  it("refuses a Grant whose key's record was pruned when it asks for another kind of pool than the key made; the same grant is answered its pool whatever its amount became", () => {
    const m = Machine.open();
    const first = m.ok(m.grant(50n, { idempotencyKey: "promo", kind: "bonus" }));
    // As after a rollover that carried the used pool into the next cycle (what it was granted becomes what it holds).
    m.account.pools.get(first.poolId!)!.grantedMicros = 30n;
    m.account.idempotency.delete("promo");
    for (const other of [m.grant(5_000n, { idempotencyKey: "promo", kind: "add_on" }), m.grant(50n, { idempotencyKey: "promo", kind: "bonus", priority: 5 })]) {
      expect(m.run(other)[0]).toMatchObject({ ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" } });
    }
    expect(m.ok(m.grant(50n, { idempotencyKey: "promo", kind: "bonus" }))).toMatchObject({ poolId: first.poolId, entryId: 0n });
  });

  it("keys a work's own writes so they fit whatever the work id's length: plain while they fit, hashed after", () => {
    expect(workKey("run-1", 1_700_000_000_000)).toBe("meter:run-1:1700000000000");
    for (const length of [100, 101, 128]) {
      const id = "w".repeat(length);
      for (const step of ["open", "release", 1_700_000_000_000, 2n ** 63n - 1n]) expect(checkKey(workKey(id, step), "ledger")).toBeNull();
    }
    // Two long ids keep apart, and each keeps its steps apart.
    expect(workKey("a".repeat(128), "open")).not.toBe(workKey(`${"a".repeat(127)}b`, "open"));
    expect(workKey("a".repeat(128), "open")).not.toBe(workKey("a".repeat(128), "close"));
  });

  it("answers a replay with the recorded answer and writes nothing", () => {
    const m = Machine.open();
    const command = m.charge(10n);
    const [first] = m.run(command);
    const [again] = m.run(command);
    expect(again).toEqual({ ...first, replayed: true });
    expect(m.last!.writes).toEqual([]);
  });

  it("answers a replayed denial the same, even after the balance changed", () => {
    const m = Machine.open({ allotmentMicros: 5n });
    const command = m.authorize(10n);
    expect(m.ok(command).allowed).toBe(false);
    m.ok(m.grant(100n));
    expect(m.ok(command)).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS" });
  });

  it("refuses the key with another request, and leaves a refused request's key free", () => {
    const m = Machine.open();
    m.ok(m.charge(10n, { idempotencyKey: "a" }));
    expect(m.run(m.charge(11n, { idempotencyKey: "a" }))[0]).toMatchObject({ ok: false, error: { code: "ALREADY_EXISTS", reason: "IDEMPOTENCY_KEY_REUSED" } });
    expect(m.run(m.release("missing", { idempotencyKey: "b" }))[0]).toMatchObject({ ok: false });
    expect(m.run(m.charge(1n, { idempotencyKey: "b" }))[0]).toMatchObject({ ok: true, replayed: false });
  });
});
