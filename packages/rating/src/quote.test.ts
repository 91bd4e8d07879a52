import { describe, expect, it } from "vitest";
import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { quote, quoteProviderCost, quoteUsage, roundHalfUp, splitRounded, versionForUsage, versionInEffect } from "./quote.js";
import type { RateTable } from "./types.js";

const table: RateTable = {
  tableId: "default",
  version: 3n,
  effectiveFrom: new Date("2026-01-01T00:00:00Z"),
  rates: [
    { bucket: "ai", unit: "credits", kind: "model_reply", model: "gpt-4o", microsPerReply: 5_000_000n },
    {
      bucket: "ai",
      unit: "credits",
      kind: "model_token",
      model: "claude-sonnet",
      inputMicrosPerMillion: 3_000_000n,
      outputMicrosPerMillion: 15_000_000n,
      cacheReadMicrosPerMillion: 300_000n,
      cacheWriteMicrosPerMillion: 3_750_000n,
      inputUsdMicrosPerMillion: 3_000_000n,
      outputUsdMicrosPerMillion: 15_000_000n,
      cacheReadUsdMicrosPerMillion: 300_000n,
      cacheWriteUsdMicrosPerMillion: 3_750_000n,
    },
    { bucket: "ai", unit: "credits", kind: "block", block: "ai-text", microsPerRun: 1_000_000n, configurationKey: "model", microsPerRunByValue: { "gpt-4o": 3_000_000n } },
    { bucket: "compute", unit: "credits", kind: "gpu_hour", gpuType: "A100", microsPerReplicaHour: 36_000_000n },
  ],
};

describe("roundHalfUp", () => {
  it("rounds halves up and everything else to the nearest micro-unit", () => {
    expect(roundHalfUp(5n, 2n)).toBe(3n);
    expect(roundHalfUp(4n, 3n)).toBe(1n);
    expect(roundHalfUp(5n, 3n)).toBe(2n);
    expect(roundHalfUp(0n, 7n)).toBe(0n);
  });
});

describe("quote", () => {
  it("prices a reply at the model's flat rate and names the version", () => {
    const [line] = quote(table, [{ kind: "model_reply", model: "gpt-4o", replies: 2n }]);
    expect(line).toMatchObject({ amountMicros: 10_000_000n, rateTableVersion: 3n, bucket: "ai", unit: "credits" });
  });

  it("prices tokens per million with one line per token kind", () => {
    const lines = quote(table, [
      { kind: "model_tokens", model: "claude-sonnet", inputTokens: 1_000n, outputTokens: 500n, cacheReadTokens: 0n, cacheWriteTokens: 1n },
    ]);
    expect(lines.map((l) => l.amountMicros)).toEqual([3_000n, 7_500n, 4n]);
  });

  it("chooses a variable block price from the configuration, with the default otherwise", () => {
    const [chosen] = quote(table, [{ kind: "block_run", block: "ai-text", configuration: { model: "gpt-4o" }, runs: 1n }]);
    const [fallback] = quote(table, [{ kind: "block_run", block: "ai-text", configuration: { model: "other" }, runs: 1n }]);
    expect(chosen?.amountMicros).toBe(3_000_000n);
    expect(fallback?.amountMicros).toBe(1_000_000n);
  });

  it("charges two GPU replicas twice one", () => {
    const [one] = quote(table, [{ kind: "gpu_time", gpuType: "A100", replicas: 1n, seconds: 60n }]);
    const [two] = quote(table, [{ kind: "gpu_time", gpuType: "A100", replicas: 2n, seconds: 60n }]);
    expect(two!.amountMicros).toBe(one!.amountMicros * 2n);
    expect(one!.amountMicros).toBe(600_000n);
  });

  it("rejects an unknown model with its name and a mismatched kind as invalid", () => {
    expect(() => quote(table, [{ kind: "model_reply", model: "nope", replies: 1n }])).toThrow(NotFoundError);
    expect(() => quote(table, [{ kind: "model_reply", model: "claude-sonnet", replies: 1n }])).toThrow(InvalidArgumentError);
    expect(() => quote(table, [{ kind: "model_reply", model: "gpt-4o", replies: -1n }])).toThrow(/usage\[0\]\.model_reply\.replies/);
  });
});

describe("versionInEffect", () => {
  it("ignores versions scheduled for later", () => {
    const later = { ...table, version: 4n, effectiveFrom: new Date("2026-12-01T00:00:00Z") };
    expect(versionInEffect([table, later], new Date("2026-11-23T00:00:00Z"))?.version).toBe(3n);
    expect(versionInEffect([table, later], new Date("2026-12-02T00:00:00Z"))?.version).toBe(4n);
  });
});

describe("rounding once per usage", () => {
  it("rounds a reply's tokens on their total: 2 input and 2 output tokens at 0.2 µcr each cost 1 µcr, not 0 + 0", () => {
    const cheap: RateTable = { ...table, rates: [{ bucket: "ai", unit: "credits", kind: "model_token", model: "tiny", inputMicrosPerMillion: 200_000n, outputMicrosPerMillion: 200_000n, cacheReadMicrosPerMillion: 0n, cacheWriteMicrosPerMillion: 0n, inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n }] };
    const lines = quoteUsage(cheap, { kind: "model_tokens", model: "tiny", inputTokens: 2n, outputTokens: 2n, cacheReadTokens: 0n, cacheWriteTokens: 0n });
    expect(lines.map((line) => line.amountMicros)).toEqual([1n, 0n]);
  });

  it("splits the rounded total by largest remainder, the earlier line first on a tie", () => {
    expect(splitRounded([400_000n, 400_000n], 1_000_000n)).toEqual([1n, 0n]);
    expect(splitRounded([1_300_000n, 2_600_000n, 3_000_000n], 1_000_000n)).toEqual([1n, 3n, 3n]);
    expect(splitRounded([500_000n, 0n], 1_000_000n)).toEqual([1n, 0n]);
    expect(splitRounded([400_000n, 0n], 1_000_000n)).toEqual([0n, 0n]);
  });
});

describe("versionForUsage", () => {
  const later = { ...table, version: 4n, effectiveFrom: new Date("2026-12-01T00:00:00Z") };
  const now = new Date("2026-12-05T00:00:00Z");

  it("prices usage at the version in effect when it happened", () => {
    expect(versionForUsage([table, later], new Date("2026-11-23T00:00:00Z"), now)?.version).toBe(3n);
    expect(versionForUsage([table, later], now, now)?.version).toBe(4n);
  });

  it("prices usage from before the first version at the earliest one in effect now, and none before any is", () => {
    expect(versionForUsage([later, table], new Date("2025-06-01T00:00:00Z"), now)?.version).toBe(3n);
    expect(versionForUsage([later], new Date("2025-06-01T00:00:00Z"), new Date("2026-11-30T00:00:00Z"))).toBeUndefined();
  });

  it("never prices at a version that was never in effect: of two first versions for one moment, the later", () => {
    const correction = { ...table, version: 5n };
    expect(versionForUsage([table, correction, later], new Date("2025-06-01T00:00:00Z"), now)?.version).toBe(5n);
  });
});

describe("quoteProviderCost", () => {
  const tokens = (inputTokens: bigint, outputTokens: bigint, cacheReadTokens = 0n, cacheWriteTokens = 0n) =>
    ({ kind: "model_tokens", model: "claude-sonnet", inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens }) as const;

  it("prices a reply's input and output tokens at the model's USD prices", () => {
    expect(quoteProviderCost(table, tokens(1_000_000n, 100_000n))?.map((line) => [line.unit, line.amountMicros])).toEqual([["usd", 3_000_000n], ["usd", 1_500_000n]]);
  });

  it("prices cache reads and writes at their own USD prices", () => {
    expect(quoteProviderCost(table, tokens(0n, 0n, 1_000_000n, 1_000_000n))?.map((line) => [line.unit, line.amountMicros])).toEqual([["usd", 300_000n], ["usd", 3_750_000n]]);
  });

  it("prices cache tokens without USD prices at 0 USD, still in USD (they were priced in credits: 0, or refused on a USD hold)", () => {
    const unpriced: RateTable = { ...table, rates: table.rates.map((rate) => ({ ...rate, cacheReadUsdMicrosPerMillion: 0n, cacheWriteUsdMicrosPerMillion: 0n })) };
    expect(quoteProviderCost(unpriced, tokens(0n, 0n, 1_000_000n, 1_000_000n))?.map((line) => [line.unit, line.amountMicros])).toEqual([["usd", 0n]]);
  });
});
