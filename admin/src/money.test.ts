import { describe, expect, it } from "vitest";
import { checkHumanAmount, humanizeMicros, formatAmount, formatBasisPoints, formatDecimal, humanToMicros, microsToHuman, microsToNumber, percentOf, toMicros } from "./money";

describe("formatAmount", () => {
  it("formats credits with grouping and up to two decimals", () => {
    expect(formatAmount("1234500000", "credits")).toBe("1,234.5 credits");
    expect(formatAmount("75000000", "credits")).toBe("75 credits");
    expect(formatAmount("1000000", "credits")).toBe("1 credit");
    expect(formatAmount("0", "credits")).toBe("0 credits");
    expect(formatAmount("-2500000", "credits")).toBe("-2.5 credits");
    expect(formatAmount("1234567890123", "credits")).toBe("1,234,567.89 credits");
  });

  it("rounds half-up and never shows a non-zero amount as zero", () => {
    expect(formatAmount("1005000", "credits")).toBe("1.01 credits");
    expect(formatAmount("1004999", "credits")).toBe("1 credit");
    expect(formatAmount("123", "credits")).toBe("0.000123 credits");
    expect(formatAmount("-123", "usd")).toBe("-$0.000123");
  });

  it("formats tool runs as whole counts", () => {
    expect(formatAmount("10000000000", "tool_runs")).toBe("10,000 tool runs");
    expect(formatAmount("1000000", "tool_runs")).toBe("1 tool run");
    expect(formatAmount("45000000", "tool_runs")).toBe("45 tool runs");
  });

  it("formats USD with a dollar sign and two decimals", () => {
    expect(formatAmount("12340000", "usd")).toBe("$12.34");
    expect(formatAmount("12345678", "usd")).toBe("$12.35");
    expect(formatAmount("1000000000", "usd")).toBe("$1,000.00");
    expect(formatAmount("-5000000", "usd")).toBe("-$5.00");
  });

  it("shows every micro-unit when exact", () => {
    expect(formatAmount("1234567", "credits", { exact: true })).toBe("1.234567 credits");
    expect(formatAmount("12345678", "usd", { exact: true })).toBe("$12.345678");
  });

  it("never throws on odd input", () => {
    expect(formatAmount(undefined, "credits")).toBe("0 credits");
    expect(formatAmount("abc", "credits")).toBe("0 credits");
    expect(formatAmount("2500000", "gpu_hours")).toBe("2.5 gpu_hours");
  });
});

describe("helpers", () => {
  it("parses micro strings exactly", () => {
    expect(toMicros("9007199254740993123")).toBe(9007199254740993123n);
    expect(formatDecimal(9007199254740993123n, 6)).toBe("9,007,199,254,740.993123");
  });

  it("formats basis points and percentages", () => {
    expect(formatBasisPoints(1234)).toBe("12.34%");
    expect(formatBasisPoints(10000)).toBe("100%");
    expect(percentOf("212000000", "300000000")).toBeCloseTo(70.6667, 3);
    expect(percentOf("1", "0")).toBe(0);
    expect(microsToNumber("1234500000")).toBe(1234.5);
  });

  it("checks human amounts like the gateway", () => {
    expect(checkHumanAmount("500")).toBeNull();
    expect(checkHumanAmount("2.5")).toBeNull();
    expect(checkHumanAmount("0.000001")).toBeNull();
    expect(checkHumanAmount("-2.5")).toBe("Must be positive");
    expect(checkHumanAmount("-2.5", { signed: true })).toBeNull();
    expect(checkHumanAmount("0")).toBe("Must not be zero");
    expect(checkHumanAmount("1.0000001")).toMatch(/at most 6 decimals/);
    expect(checkHumanAmount("1e6")).toMatch(/at most 6 decimals/);
    expect(checkHumanAmount("")).toMatch(/at most 6 decimals/);
    expect(humanToMicros("-2.5")).toBe(-2_500_000n);
    expect(checkHumanAmount("0", { allowZero: true })).toBeNull();
    expect(checkHumanAmount("0.0", { allowZero: true })).toBeNull();
    expect(checkHumanAmount("-1", { allowZero: true })).toBe("Must be 0 or more");
    // As the gateway: a leading + is taken, and -0 is zero.
    expect(checkHumanAmount("+30", { signed: true })).toBeNull();
    expect(humanToMicros("+30")).toBe(30_000_000n);
    expect(checkHumanAmount("-0", { allowZero: true })).toBeNull();
    expect(checkHumanAmount("+-5", { signed: true })).toMatch(/at most 6 decimals/);
    expect(microsToHuman("10000000")).toBe("10");
    expect(microsToHuman("1234500000")).toBe("1234.5");
    expect(microsToHuman("1")).toBe("0.000001");
    expect(microsToHuman("0")).toBe("0");
  });
});

describe("humanizeMicros", () => {
  it("shows micro-unit fields of a document in whole units", () => {
    expect(humanizeMicros({ key: "model:x", perReply: { creditsMicros: "3000000" }, tiers: [{ amount_micros: "-2500000", name: "a" }], count: 5 })).toEqual({
      key: "model:x",
      perReply: { credits: "3" },
      tiers: [{ amount: "-2.5", name: "a" }],
      count: 5,
    });
  });
});
