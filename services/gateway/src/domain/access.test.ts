import { describe, expect, it } from "vitest";
import { requireReason } from "./access.js";

describe("requireReason", () => {
  it("keeps a reason in any script, trimmed, with its line breaks and direction marks", () => {
    expect(requireReason("  refund for the outage \n")).toBe("refund for the outage");
    expect(requireReason("החזר כספי\u200f")).toBe("החזר כספי\u200f");
    expect(requireReason("退款了")).toBe("退款了");
  });

  it("counts only what a reader sees toward the three characters", () => {
    for (const reason of ["ok", " a b ", "\u202e\u202e\u202e\u202e", "\u200b\u200b\u200bab", "\u2066\u2069\u200f", 42, undefined]) {
      expect(() => requireReason(reason), JSON.stringify(reason)).toThrow("say why, in a few words");
    }
  });

  it("refuses characters that make the audit log show it in another order than it was written", () => {
    expect(() => requireReason("refund \u202e001 stiderc")).toThrow(/bidirectional/);
    expect(() => requireReason("refund \u2066100\u2069 credits")).toThrow(/bidirectional/);
  });
});
