import { describe, expect, it } from "vitest";
import { requireReason } from "./access.js";

describe("requireReason", () => {
  it("keeps a reason in any script, trimmed, with its line breaks and direction marks", () => {
    expect(requireReason("  refund for the outage \n")).toBe("refund for the outage");
    expect(requireReason("החזר כספי\u200f")).toBe("החזר כספי\u200f");
    expect(requireReason("退款了")).toBe("退款了");
    // A short word whose vowels are combining marks counts them (two letters and a vowel sign).
    expect(requireReason("ठीक")).toBe("ठीक");
    // Its bound counts characters as a person does: a thousand emoji fit in 1024.
    expect(requireReason("🙂".repeat(1000))).toBe("🙂".repeat(1000));
    expect(() => requireReason("🙂".repeat(1025))).toThrow("must be at most 1024 characters");
  });

  it("counts only what a reader sees toward the three characters", () => {
    for (const reason of ["ok", " a b ", "\u202e\u202e\u202e\u202e", "\u200b\u200b\u200bab", "\u2066\u2069\u200f", "\u3164\u3164\u3164", "\u2800\u2800\u2800", "\u115f\u115f\u115f", "\u034f\u034f\u034f", "\u0301\u0301\u0301", 42, undefined]) {
      expect(() => requireReason(reason), JSON.stringify(reason)).toThrow("say why, in a few words");
    }
  });

  it("refuses characters that make the audit log show it in another order than it was written", () => {
    expect(() => requireReason("refund \u202e001 stiderc")).toThrow(/bidirectional/);
    expect(() => requireReason("refund \u2066100\u2069 credits")).toThrow(/bidirectional/);
  });
});
