import { describe, expect, it } from "vitest";
import { parseAmount } from "./amount.js";

describe("parseAmount", () => {
  it("converts whole and decimal units to micro-units exactly", () => {
    expect(parseAmount("500", "amount")).toBe(500_000_000n);
    expect(parseAmount("0.000001", "amount")).toBe(1n);
    expect(parseAmount("2.5", "amount")).toBe(2_500_000n);
    expect(parseAmount("-1.25", "amount", { signed: true })).toBe(-1_250_000n);
    // Signed either way, and the space a form may keep around the digits (never inside them).
    expect(parseAmount("+30", "amount", { signed: true })).toBe(30_000_000n);
    expect(parseAmount("+5", "amount")).toBe(5_000_000n);
    expect(parseAmount(" 5 ", "amount")).toBe(5_000_000n);
    expect(() => parseAmount("+ 5", "amount")).toThrow(/6 decimals/);
    expect(() => parseAmount("+-5", "amount", { signed: true })).toThrow(/6 decimals/);
    expect(() => parseAmount("+0", "amount")).toThrow(/zero/);
  });

  it("refuses floats it cannot represent, signs where not allowed, and junk, naming the field", () => {
    expect(() => parseAmount("0.0000001", "amount")).toThrow(/amount/);
    expect(() => parseAmount("-5", "amount")).toThrow(/positive/);
    expect(() => parseAmount("1e3", "amount")).toThrow(/amount/);
    expect(() => parseAmount("0", "amount")).toThrow(/zero/);
    expect(() => parseAmount(undefined, "grant.amount")).toThrow(/grant.amount/);
  });

  it("takes a JSON number only when no digit of it can have been lost on the way", () => {
    expect(parseAmount(2.5, "amount")).toBe(2_500_000n);
    expect(parseAmount(0.000001, "amount")).toBe(1n);
    expect(parseAmount(999_999_999.999999, "amount")).toBe(999_999_999_999_999n);
    expect(parseAmount(123456789.123456, "amount")).toBe(123_456_789_123_456n);
    // 17 significant digits in a double: refused, whatever arrived (send a string).
    expect(() => parseAmount(JSON.parse("123456789.12345678"), "amount")).toThrow(/amount: a JSON number .* send it as a string/);
    expect(() => parseAmount(1e21, "amount")).toThrow("amount: must be at most 1000000000 in whole units");
    expect(() => parseAmount(1e15, "amount")).toThrow("amount: must be at most 1000000000 in whole units");
    expect(() => parseAmount("123456789012345.123456", "amount")).toThrow("amount: must be at most 1000000000 in whole units");
  });

  it("refuses an amount beyond the platform's largest (a billion units, 10^15 micro-units), either sign", () => {
    expect(parseAmount("1000000000", "amount")).toBe(10n ** 15n);
    expect(parseAmount("-1000000000", "amount", { signed: true })).toBe(-(10n ** 15n));
    expect(() => parseAmount("1000000000.000001", "amount")).toThrow("at most 1000000000");
    expect(() => parseAmount("-9223372036855", "amount", { signed: true })).toThrow("amount: must be from -1000000000 to 1000000000 in whole units");
  });

  it("takes zero for a limit or a cap, and then calls a negative amount what it is", () => {
    expect(parseAmount("0", "low_credit_limit", { zero: true })).toBe(0n);
    expect(parseAmount("-0", "limit", { zero: true })).toBe(0n);
    expect(parseAmount("0.000", "limit", { zero: true })).toBe(0n);
    expect(parseAmount("0.00", "low_credit_limit", { zero: true })).toBe(0n);
    expect(parseAmount("-0", "low_credit_limit", { zero: true })).toBe(0n);
    expect(parseAmount("30", "negative_limit", { zero: true })).toBe(30_000_000n);
    expect(() => parseAmount("-1", "low_credit_limit", { zero: true })).toThrow("must be zero or more");
    expect(() => parseAmount("", "low_credit_limit", { zero: true })).toThrow(/low_credit_limit/);
  });
});
