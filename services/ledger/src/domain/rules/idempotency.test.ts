import { describe, expect, it } from "vitest";
import { Machine } from "../fixtures.js";
import { checkKey } from "./idempotency.js";

describe("idempotency", () => {
  it("needs a key of 1–128 characters", () => {
    expect(checkKey("")).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key" });
    expect(checkKey("x".repeat(129))).toMatchObject({ code: "INVALID_ARGUMENT", field: "idempotency_key" });
    expect(checkKey("x".repeat(128))).toBeNull();
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
