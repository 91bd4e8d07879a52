import { describe, expect, it } from "vitest";
import { parseAmount } from "./amount.js";

describe("parseAmount", () => {
  it("converts whole and decimal units to micro-units exactly", () => {
    expect(parseAmount("500", "amount")).toBe(500_000_000n);
    expect(parseAmount("0.000001", "amount")).toBe(1n);
    expect(parseAmount("2.5", "amount")).toBe(2_500_000n);
    expect(parseAmount("-1.25", "amount", { signed: true })).toBe(-1_250_000n);
  });

  it("refuses floats it cannot represent, signs where not allowed, and junk, naming the field", () => {
    expect(() => parseAmount("0.0000001", "amount")).toThrow(/amount/);
    expect(() => parseAmount("-5", "amount")).toThrow(/positive/);
    expect(() => parseAmount("1e3", "amount")).toThrow(/amount/);
    expect(() => parseAmount("0", "amount")).toThrow(/zero/);
    expect(() => parseAmount(undefined, "grant.amount")).toThrow(/grant.amount/);
  });
});
