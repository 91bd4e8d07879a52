import type { RateTable, Usage } from "@tollgate/rating";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Hold } from "../state.js";
import { accumulate, MAX_USAGE_LINES, runningCharge } from "./running-total.js";

// 1,500 µcr per million input tokens: 1,000 tokens cost 1.5 µcr, which rounds to 2 once, but to 0 when charged 100 tokens at a time.
const table: RateTable = {
  tableId: "rates", version: 1n, sequence: 11n, effectiveFrom: new Date(0),
  rates: [
    {
      bucket: "ai", unit: "credits", kind: "model_token", model: "m", inputMicrosPerMillion: 1_500n, outputMicrosPerMillion: 4_500n,
      cacheReadMicrosPerMillion: 0n, cacheWriteMicrosPerMillion: 0n, inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n,
    },
    { bucket: "compute", unit: "credits", kind: "gpu_hour", gpuType: "A100", microsPerReplicaHour: 1_000n },
  ],
};
const tokens = (inputTokens: bigint, outputTokens = 0n): Usage => ({ kind: "model_tokens", model: "m", inputTokens, outputTokens, cacheReadTokens: 0n, cacheWriteTokens: 0n });
const hold = (fields: Partial<Hold> = {}): Hold => ({
  holdId: "h", accountId: "acct", unit: "credits", bucket: "ai", amountMicros: 100n, chargedMicros: 0n, status: "open", expiresAtMs: 100, createdAtMs: 0,
  closedAtMs: null, attribution: {}, rateTableVersion: 11n, pricedUsage: [], pricedMicros: 0n, ...fields,
});

/** Charges each increment on one hold under the rule; what each charge cost. */
function chargeAll(increments: Usage[], pricing: { table?: RateTable; metered?: boolean } = {}): bigint[] {
  let h = hold();
  return increments.map((usage) => {
    const charged = runningCharge(h, { usage, table: pricing.table ?? table, providerCost: false, metered: pricing.metered ?? true });
    if ("code" in charged) throw new Error(charged.message);
    h = { ...h, pricedUsage: charged.pricedUsage, pricedMicros: charged.pricedMicros };
    return charged.amountMicros;
  });
}
const sum = (amounts: bigint[]) => amounts.reduce((a, b) => a + b, 0n);

/** `total` tokens in `parts` increments as even as whole tokens allow. */
function split(total: bigint, parts: number): Usage[] {
  const n = BigInt(parts);
  return Array.from({ length: parts }, (_, i) => tokens(total / n + (BigInt(i) < total % n ? 1n : 0n)));
}

describe("a hold's running total (rounded once)", () => {
  it("costs the same split 1, 3 and 10 ways: the running total is rounded, each charge pays the difference", () => {
    const totals = [1, 3, 10].map((parts) => sum(chargeAll(split(1_000n, parts))));
    expect(totals).toEqual([2n, 2n, 2n]);
    // Rounded per increment, the same usage would have cost 2, 1 and 0 µcr; here the total's µcr are charged as it reaches them (0.6 → 1, 1.5 → 2).
    expect(chargeAll(split(1_000n, 10))).toEqual([0n, 0n, 0n, 1n, 0n, 0n, 0n, 0n, 0n, 1n]);
  });

  it("sums usage per model and kind, with multiplied quantities folded (replicas × seconds)", () => {
    const gpu = (replicas: bigint, seconds: bigint): Usage => ({ kind: "gpu_time", gpuType: "A100", replicas, seconds });
    expect(accumulate(accumulate([tokens(5n)], gpu(2n, 3n)), gpu(1n, 4n))).toEqual([tokens(5n), gpu(1n, 10n)]);
    expect(sum(chargeAll([gpu(2n, 900n), gpu(1n, 1_800n)]))).toBe(sum(chargeAll([gpu(1n, 3_600n)])));
  });

  it("never depends on the split, whatever the split (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 5_000n }), fc.bigInt({ min: 0n, max: 5_000n })), { minLength: 1, maxLength: 12 }), (parts) => {
        const whole = tokens(sum(parts.map(([i]) => i)), sum(parts.map(([, o]) => o)));
        expect(sum(chargeAll(parts.map(([i, o]) => tokens(i, o))))).toBe(sum(chargeAll([whole])));
      }),
    );
  });

  it("refuses a charge priced at another rate table version than the hold's, naming the hold's (RATE_TABLE_PINNED)", () => {
    const newer: RateTable = { ...table, version: 2n, sequence: 12n };
    expect(runningCharge(hold(), { usage: tokens(10n), table: newer, providerCost: false, metered: true })).toMatchObject({
      code: "FAILED_PRECONDITION", reason: "RATE_TABLE_PINNED", pinnedRateTable: 11n,
    });
  });

  it("leaves the running total as it was for unmetered usage (journaled at zero)", () => {
    const h = hold({ pricedUsage: [tokens(7n)], pricedMicros: 3n });
    expect(runningCharge(h, { usage: tokens(1_000n), table, providerCost: false, metered: false })).toEqual({ pricedUsage: [tokens(7n)], pricedMicros: 3n, amountMicros: 0n });
  });

  it("holds at most MAX_USAGE_LINES different things: a charge naming one more is refused (HOLD_USAGE_LINES), more of one already held is not", () => {
    // Any tool at 1 µcr a run (the wildcard rate): each name is a different thing.
    const tools: RateTable = { ...table, rates: [...table.rates, { bucket: "ai", unit: "credits", kind: "tool_run", tool: "", microsPerRun: 1n }] };
    const tool = (name: string): Usage => ({ kind: "tool_run", tool: name, runs: 1n });
    const full = hold({ pricedUsage: Array.from({ length: MAX_USAGE_LINES }, (_, i) => tool(`t${i}`)), pricedMicros: BigInt(MAX_USAGE_LINES) });
    expect(runningCharge(full, { usage: tool("another"), table: tools, providerCost: false, metered: true })).toMatchObject({ code: "FAILED_PRECONDITION", reason: "HOLD_USAGE_LINES" });
    expect(runningCharge(full, { usage: tool("t7"), table: tools, providerCost: false, metered: true })).toMatchObject({ amountMicros: 1n, pricedMicros: BigInt(MAX_USAGE_LINES) + 1n });
  });

  it("refuses a charge that would take the hold's running total past the price range as the hold's state (HOLD_TOTAL_OUT_OF_RANGE), not the usage's", () => {
    // 10^15 µcr is 10^12 A100 replica-hours at 1,000 µcr each: the hold has priced all of them, and one more hour passes the range.
    const gpu = (seconds: bigint): Usage => ({ kind: "gpu_time", gpuType: "A100", replicas: 1n, seconds });
    const full = hold({ bucket: "compute", pricedUsage: [gpu(3_600n * 10n ** 12n)], pricedMicros: 10n ** 15n });
    const refused = runningCharge(full, { usage: gpu(3_600n), table, providerCost: false, metered: true });
    expect(refused).toMatchObject({ code: "FAILED_PRECONDITION", reason: "HOLD_TOTAL_OUT_OF_RANGE" });
    expect((refused as { message: string }).message).toMatch(/^hold h would price above 1000000000000000 micro-units in all/);
  });
});
