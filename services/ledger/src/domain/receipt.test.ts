import { describe, expect, it } from "vitest";
import { quoteUsage, type RateTable } from "@tollgate/rating";
import { receiptLines } from "./receipt.js";

const table: RateTable = {
  tableId: "default",
  version: 2n,
  effectiveFrom: new Date(0),
  rates: [
    { bucket: "ai", unit: "credits", kind: "model_reply", model: "gpt-4o", microsPerReply: 5_000_000n },
    {
      bucket: "ai", unit: "credits", kind: "model_token", model: "claude", inputMicrosPerMillion: 3_000_000n, outputMicrosPerMillion: 15_000_000n,
      cacheReadMicrosPerMillion: 300_000n, cacheWriteMicrosPerMillion: 3_750_000n, inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n,
    },
    { bucket: "tool_runs", unit: "tool_runs", kind: "tool_run", tool: "", microsPerRun: 1_000_000n },
    { bucket: "compute", unit: "credits", kind: "gpu_hour", gpuType: "a100", microsPerReplicaHour: 7_200_000n },
    { bucket: "compute", unit: "credits", kind: "cpu_core_hour", cpuType: "xeon", microsPerCoreHour: 1_000n },
  ],
};

describe("receipt lines", () => {
  it("gives the quantity a per-unit rate priced: 3 replies at 5 credits", () => {
    expect(receiptLines(table, { model: "gpt-4o" }, 15_000_000n)).toEqual([
      { bucket: "ai", unit: "credits", description: "gpt-4o replies", rateMicros: 5_000_000n, ratePer: 1n, quantity: 3n, quantityKnown: true, amountMicros: 15_000_000n },
    ]);
  });

  it("prices a tool without its own rate at the default tool rate", () => {
    const [line] = receiptLines(table, { tool: "web-search" }, 4_000_000n);
    expect(line).toMatchObject({ description: "web-search runs", quantity: 4n, quantityKnown: true, unit: "tool_runs" });
  });

  it("gives the replica-seconds of a GPU deployment priced at 7.2 credits an hour", () => {
    const [line] = receiptLines(table, { work: { kind: "gpu_time", gpuType: "a100" } }, 20_000n);
    expect(line).toMatchObject({ description: "a100 replica-seconds", ratePer: 3600n, quantity: 10n, quantityKnown: true });
  });

  it("names no quantity where the amount cannot tell one: token rates, amounts between steps, rates under a micro per unit, zero", () => {
    const tokens = receiptLines(table, { model: "claude" }, 18_000_000n);
    expect(tokens.map((l) => l.description)).toEqual(["claude input tokens", "claude output tokens", "claude cache read tokens", "claude cache write tokens"]);
    expect(tokens.every((l) => !l.quantityKnown && l.quantity === 0n && l.amountMicros === 0n)).toBe(true);
    expect(receiptLines(table, { model: "gpt-4o" }, 7_500_000n)[0]).toMatchObject({ quantityKnown: false, amountMicros: 7_500_000n });
    expect(receiptLines(table, { work: { kind: "cpu_time", cpuType: "xeon" } }, 3n)[0]).toMatchObject({ quantityKnown: false });
    expect(receiptLines(table, { model: "gpt-4o" }, 0n)[0]).toMatchObject({ quantityKnown: false });
  });

  it("keeps to the rates of the charge's bucket and unit: a reply attributed to a tool is not a tool run", () => {
    expect(receiptLines(table, { model: "gpt-4o", tool: "web-search", bucket: "ai", unit: "credits" }, 10_000_000n)).toMatchObject([{ description: "gpt-4o replies", quantity: 2n }]);
  });

  it("describes and prices each line as the quote of the same usage did", () => {
    const same = (usage: Parameters<typeof quoteUsage>[1], item: Parameters<typeof receiptLines>[1]) => {
      const quoted = quoteUsage(table, usage);
      const receipt = receiptLines(table, item, quoted[0]!.amountMicros);
      expect(receipt.map(({ description, rateMicros, ratePer }) => ({ description, rateMicros, ratePer }))).toEqual(
        quoted.map(({ description, rateMicros, ratePer }) => ({ description, rateMicros, ratePer })),
      );
      if (receipt.length === 1) expect(receipt[0]!.quantity).toBe(quoted[0]!.quantity);
    };
    same({ kind: "model_reply", model: "gpt-4o", replies: 3n }, { model: "gpt-4o" });
    same({ kind: "tool_run", tool: "web-search", runs: 4n }, { tool: "web-search" });
    same({ kind: "gpu_time", gpuType: "a100", replicas: 2n, seconds: 5n }, { work: { kind: "gpu_time", gpuType: "a100" } });
    same(
      { kind: "model_tokens", model: "claude", inputTokens: 1n, outputTokens: 1n, cacheReadTokens: 1n, cacheWriteTokens: 1n },
      { model: "claude" },
    );
  });

  it("has no lines when the version is unknown or names nothing the charge used", () => {
    expect(receiptLines(undefined, { model: "gpt-4o" }, 5_000_000n)).toEqual([]);
    expect(receiptLines(table, { model: "unknown" }, 5_000_000n)).toEqual([]);
  });
});
