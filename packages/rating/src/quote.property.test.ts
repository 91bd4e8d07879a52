import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { quote, quoteUsage, totalMicros, versionInEffect } from "./quote.js";
import type { Bucket, LineItem, RateTable, Unit, Usage } from "./types.js";

// ---------------------------------------------------------------------------
// Shared arbitraries
// ---------------------------------------------------------------------------

/** A rate in micro-units (up to a million credits per rate unit). */
const price = fc.bigInt({ min: 0n, max: 10n ** 12n });

/**
 * A usage quantity. Half the time a multiple of 9,000,000 = lcm(1, 60, 3600,
 * 1,000,000), so every kind of line item is also tried with an exact amount.
 */
const quantity = fc.oneof(
  fc.bigInt({ min: 0n, max: 10n ** 9n }),
  fc.bigInt({ min: 0n, max: 1_000n }).map((n) => n * 9_000_000n),
);

const bucket = fc.constantFrom<Bucket>("ai", "compute", "platform", "tool_runs");
const unit = fc.constantFrom<Unit>("credits", "tool_runs", "usd");

// The names every generated table prices, so every generated usage can be quoted.
const REPLY_MODEL = "reply-model";
const TOKEN_MODEL = "token-model";
const BLOCK = "ai-text";
const CONFIG_KEY = "model";
const CONFIG_VALUES = ["small", "large", "xl"] as const;
const GPU = "A100";
const CPU = "x86";
const PROFILE = "standard";
const SIZE_CLASS = "7b";
const HARDWARE = "H100";
const TOOL = "web-search";

/** One rate of every kind, with random prices (the block sometimes priced by configuration). */
const rateTable: fc.Arbitrary<RateTable> = fc
  .record({
    version: fc.bigInt({ min: 1n, max: 1_000n }),
    buckets: fc.array(fc.record({ bucket, unit }), { minLength: 10, maxLength: 10 }),
    reply: price,
    tokens: fc.tuple(price, price, price, price),
    block: fc.record({
      microsPerRun: price,
      configurationKey: fc.constantFrom(CONFIG_KEY, ""),
      // An ordinary object, as the codec builds it with Object.fromEntries.
      microsPerRunByValue: fc.array(fc.tuple(fc.constantFrom(...CONFIG_VALUES), price), { maxLength: 3 }).map((entries) => Object.fromEntries(entries)),
    }),
    gpu: price,
    cpu: price,
    profile: price,
    fineTuning: price,
    active: price,
    tool: price,
    defaultTool: price,
  })
  .map(({ version, buckets: b, reply, tokens, block, gpu, cpu, profile, fineTuning, active, tool, defaultTool }) => {
    const base = (i: number) => b[i]!;
    return {
      tableId: "default",
      version,
      effectiveFrom: new Date("2026-01-01T00:00:00Z"),
      rates: [
        { ...base(0), kind: "model_reply", model: REPLY_MODEL, microsPerReply: reply },
        {
          ...base(1),
          kind: "model_token",
          model: TOKEN_MODEL,
          inputMicrosPerMillion: tokens[0],
          outputMicrosPerMillion: tokens[1],
          cacheReadMicrosPerMillion: tokens[2],
          cacheWriteMicrosPerMillion: tokens[3],
          inputUsdMicrosPerMillion: 0n,
          outputUsdMicrosPerMillion: 0n,
        },
        { ...base(2), kind: "block", block: BLOCK, ...block },
        { ...base(3), kind: "gpu_hour", gpuType: GPU, microsPerReplicaHour: gpu },
        { ...base(4), kind: "cpu_core_hour", cpuType: CPU, microsPerCoreHour: cpu },
        { ...base(5), kind: "hardware_profile_hour", profile: PROFILE, vcpus: 2, memoryMib: 4096, microsPerHour: profile },
        { ...base(6), kind: "fine_tuning", sizeClass: SIZE_CLASS, hardware: HARDWARE, microsPerMillionTokensPerEpoch: fineTuning },
        { ...base(7), kind: "active_minute", microsPerMinute: active },
        { ...base(8), kind: "tool_run", tool: TOOL, microsPerRun: tool },
        { ...base(9), kind: "tool_run", tool: "", microsPerRun: defaultTool },
      ],
    };
  });

/**
 * A value the table does not price: any string, or (often, since fc.string()
 * rarely produces one) a name that plain objects inherit from Object.prototype.
 */
const unpricedValue = fc.oneof(fc.string(), fc.constantFrom("constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"));

/** A block configuration: a priced value, an unpriced one, or the key left out. */
const configuration: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.constantFrom(...CONFIG_VALUES).map((value) => ({ [CONFIG_KEY]: value })),
  unpricedValue.map((value) => ({ [CONFIG_KEY]: value })),
  fc.constant({}),
);

/** One arbitrary per usage kind, each priceable by every generated table. */
const usageOf = {
  model_reply: fc.record({ kind: fc.constant("model_reply" as const), model: fc.constant(REPLY_MODEL), replies: quantity }),
  model_tokens: fc.record({
    kind: fc.constant("model_tokens" as const),
    model: fc.constant(TOKEN_MODEL),
    inputTokens: quantity,
    outputTokens: quantity,
    cacheReadTokens: quantity,
    cacheWriteTokens: quantity,
  }),
  block_run: fc.record({ kind: fc.constant("block_run" as const), block: fc.constant(BLOCK), configuration, runs: quantity }),
  gpu_time: fc.record({ kind: fc.constant("gpu_time" as const), gpuType: fc.constant(GPU), replicas: fc.bigInt({ min: 0n, max: 64n }), seconds: quantity }),
  cpu_time: fc.record({ kind: fc.constant("cpu_time" as const), cpuType: fc.constant(CPU), cores: fc.bigInt({ min: 0n, max: 256n }), seconds: quantity }),
  hardware_profile_time: fc.record({ kind: fc.constant("hardware_profile_time" as const), profile: fc.constant(PROFILE), seconds: quantity }),
  fine_tuning: fc.record({
    kind: fc.constant("fine_tuning" as const),
    trainingTokens: quantity,
    sizeClass: fc.constant(SIZE_CLASS),
    epochs: fc.bigInt({ min: 0n, max: 20n }),
    hardware: fc.constant(HARDWARE),
  }),
  active_time: fc.record({ kind: fc.constant("active_time" as const), seconds: quantity }),
  // A named tool, an unpriced one (falls back to the default rate), or no name.
  tool_run: fc.record({ kind: fc.constant("tool_run" as const), tool: fc.constantFrom(TOOL, "other-tool", ""), runs: quantity }),
} satisfies { [K in Usage["kind"]]: fc.Arbitrary<Extract<Usage, { kind: K }>> };

const usage: fc.Arbitrary<Usage> = fc.oneof(...Object.values(usageOf));

/** The quantity fields of each usage kind: growing any of them is "more of the same usage". */
const QUANTITY_FIELDS: { [K in Usage["kind"]]: string[] } = {
  model_reply: ["replies"],
  model_tokens: ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"],
  block_run: ["runs"],
  gpu_time: ["replicas", "seconds"],
  cpu_time: ["cores", "seconds"],
  hardware_profile_time: ["seconds"],
  fine_tuning: ["trainingTokens", "epochs"],
  active_time: ["seconds"],
  tool_run: ["runs"],
};

/** Adds extra[i] (≥ 0) to the i-th quantity field of the usage. */
function grow(u: Usage, extra: bigint[]): Usage {
  const grown: Record<string, unknown> = { ...u };
  QUANTITY_FIELDS[u.kind].forEach((field, i) => {
    grown[field] = (grown[field] as bigint) + (extra[i] ?? 0n);
  });
  return grown as Usage;
}

const extra = fc.array(quantity, { minLength: 4, maxLength: 4 });

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

describe("quote (properties)", () => {
  it("prices every line item as a non-negative bigint, never a float", () => {
    fc.assert(
      fc.property(rateTable, fc.array(usage, { maxLength: 5 }), (table, usages) => {
        for (const line of quote(table, usages)) {
          expect(typeof line.amountMicros).toBe("bigint");
          expect(line.amountMicros >= 0n).toBe(true);
        }
        expect(typeof totalMicros(quote(table, usages))).toBe("bigint");
      }),
    );
  });

  it("is monotone in quantity: more of the same usage never costs less", () => {
    fc.assert(
      fc.property(rateTable, usage, extra, (table, u, more) => {
        const before = totalMicros(quoteUsage(table, u));
        const after = totalMicros(quoteUsage(table, grow(u, more)));
        expect(after >= before).toBe(true);
      }),
    );
  });

  it("is additive: quoting [a, b] gives the line items of [a] then [b], and the totals add", () => {
    fc.assert(
      fc.property(rateTable, usage, usage, (table, a, b) => {
        const both = quote(table, [a, b]);
        const separately = [...quote(table, [a]), ...quote(table, [b])];
        expect(both).toEqual(separately);
        expect(totalMicros(both)).toBe(totalMicros(quote(table, [a])) + totalMicros(quote(table, [b])));
      }),
    );
  });

  it("rounds a usage once, half-up on its total, each line within a micro-unit of exact and exact when the rate divides", () => {
    fc.assert(
      fc.property(rateTable, usage, (table, u) => {
        const lines = quoteUsage(table, u);
        const per = lines[0]!.ratePer;
        expect(lines.every((line) => line.ratePer === per)).toBe(true);
        const exactTotal = lines.reduce((sum, line) => sum + line.quantity * line.rateMicros, 0n);
        const totalError = lines.reduce((sum, line) => sum + line.amountMicros, 0n) * per - exactTotal;
        // The total: |error| ≤ per / 2, with a tie rounded up: −per/2 < error ≤ per/2.
        expect(2n * totalError <= per).toBe(true);
        expect(2n * totalError > -per).toBe(true);
        for (const line of lines) {
          const exact = line.quantity * line.rateMicros;
          const error = line.amountMicros * line.ratePer - exact; // amount − exact amount, scaled by ratePer
          expect(error < line.ratePer && error > -line.ratePer).toBe(true);
          if (exact % line.ratePer === 0n) expect(error).toBe(0n);
          expect(line.rounding).toBe("half_up");
        }
      }),
    );
  });

  it("prices GPU replica-seconds: r replicas for s seconds cost 1 replica for r·s seconds, and 2 replicas twice 1 when exact", () => {
    fc.assert(
      fc.property(rateTable, usageOf.gpu_time, (table, u) => {
        const amount = (usage: Usage) => {
          const [line, ...rest] = quoteUsage(table, usage);
          expect(rest).toEqual([]);
          return line!;
        };
        expect(amount(u).amountMicros).toBe(amount({ ...u, replicas: 1n, seconds: u.replicas * u.seconds }).amountMicros);

        const one = amount({ ...u, replicas: 1n });
        const two = amount({ ...u, replicas: 2n });
        if ((one.quantity * one.rateMicros) % one.ratePer === 0n) expect(two.amountMicros).toBe(2n * one.amountMicros);
      }),
    );
  });

  it("prices a block run at its configured value's price when the table lists it, else at the default", () => {
    fc.assert(
      fc.property(rateTable, usageOf.block_run, (table, u) => {
        const rate = table.rates.find((r) => r.kind === "block")!;
        if (rate.kind !== "block") throw new Error("unreachable");
        const value = rate.configurationKey ? u.configuration[rate.configurationKey] : undefined;
        const listed = value !== undefined && Object.hasOwn(rate.microsPerRunByValue, value);
        const [line] = quoteUsage(table, u);
        expect(line!.rateMicros).toBe(listed ? rate.microsPerRunByValue[value]! : rate.microsPerRun);
        expect(line!.amountMicros).toBe(u.runs * line!.rateMicros);
      }),
    );
  });

  it("names the table's version on every line item", () => {
    fc.assert(
      fc.property(rateTable, fc.array(usage, { maxLength: 5 }), (table, usages) => {
        const lines: LineItem[] = quote(table, usages);
        for (const line of lines) expect(line.rateTableVersion).toBe(table.version);
      }),
    );
  });
});

describe("versionInEffect (properties)", () => {
  // Days from a small range, so that ties (same effectiveFrom, or at === effectiveFrom) are common.
  const day = fc.integer({ min: 0, max: 10 }).map((d) => new Date(Date.UTC(2026, 0, 1 + d)));
  const version: fc.Arbitrary<RateTable> = fc.record({ tableId: fc.constant("default"), version: fc.bigInt({ min: 1n, max: 20n }), effectiveFrom: day, rates: fc.constant([]) });

  it("never returns a version effective after `at`, and returns the latest effective one", () => {
    fc.assert(
      fc.property(fc.array(version, { maxLength: 6 }), day, (versions, at) => {
        const effective = versions.filter((v) => v.effectiveFrom.getTime() <= at.getTime());
        const chosen = versionInEffect(versions, at);
        if (effective.length === 0) {
          expect(chosen).toBeUndefined();
          return;
        }
        expect(chosen).toBeDefined();
        expect(versions).toContain(chosen);
        expect(chosen!.effectiveFrom.getTime() <= at.getTime()).toBe(true);
        for (const v of effective) {
          const later = v.effectiveFrom.getTime() > chosen!.effectiveFrom.getTime();
          const sameDayHigherVersion = v.effectiveFrom.getTime() === chosen!.effectiveFrom.getTime() && v.version > chosen!.version;
          expect(later || sameDayHigherVersion).toBe(false);
        }
      }),
    );
  });
});
