import { describe, expect, it } from "vitest";
import { usage, zeroOf } from "./usage.js";

describe("usage", () => {
  it("builds the contract's usage kinds from numbers, bigints or digit strings", () => {
    expect(usage.tokens("gpt-4o", { input: 12, output: 3n })).toEqual({
      kind: { $case: "modelTokens", modelTokens: { model: "gpt-4o", inputTokens: "12", outputTokens: "3", cacheReadTokens: "0", cacheWriteTokens: "0" } },
    });
    expect(usage.replies("gpt-4o")).toEqual({ kind: { $case: "modelReply", modelReply: { model: "gpt-4o", replies: "1" } } });
    expect(() => usage.replies("gpt-4o", 1.5)).toThrow(TypeError);
    expect(() => usage.replies("gpt-4o", "-1")).toThrow(TypeError);
  });

  it("zeroOf keeps what names the usage and zeroes what counts it", () => {
    expect(zeroOf(usage.tokens("gpt-4o", { input: 12, output: 30 }))).toEqual(usage.tokens("gpt-4o", {}));
    expect(zeroOf(usage.blockRuns("ocr", 3, { tier: "hd" }))).toEqual(usage.blockRuns("ocr", 0, { tier: "hd" }));
    expect(zeroOf({ kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "2", seconds: "30" } } })).toEqual({
      kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } },
    });
  });
});
