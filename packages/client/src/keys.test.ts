import { describe, expect, it } from "vitest";
import { MAX_KEY_LENGTH, stepKey, uuidv7 } from "./keys.js";

describe("uuidv7", () => {
  it("is an RFC 9562 version 7 UUID carrying its time in the first 48 bits", () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
    const id = uuidv7(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(now);
  });

  it("sorts by time and never repeats", () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => uuidv7(1_700_000_000_000 + i));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 1_000 }, () => uuidv7(1_700_000_000_000))).size).toBe(1_000);
  });
});

describe("stepKey", () => {
  it("is the same for the same work and step, and differs between steps", () => {
    expect(stepKey("reply-42", "charge/3")).toBe("reply-42/charge/3");
    expect(stepKey("reply-42", "charge/3")).toBe(stepKey("reply-42", "charge/3"));
    expect(stepKey("reply-42", "charge/3")).not.toBe(stepKey("reply-42", "charge/4"));
    expect(stepKey("reply-42", "final")).not.toBe(stepKey("reply-43", "final"));
  });

  it("hashes a work key too long to fit, keeping keys within the ledger's bound and distinct", () => {
    const long = "w".repeat(200);
    const key = stepKey(long, "charge/12345");
    expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(key).toMatch(/^[0-9a-f]{64}\/charge\/12345$/);
    expect(stepKey(long, "charge/12345")).toBe(key);
    expect(stepKey(`${long}x`, "charge/12345")).not.toBe(key);
  });

  it("refuses an empty work key", () => {
    expect(() => stepKey("", "final")).toThrow(TypeError);
  });
});
