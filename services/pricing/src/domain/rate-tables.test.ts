import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import type { Rate } from "@tollgate/rating";
import type { NewRateTableVersion } from "../data/rate-table-store.js";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";
import { RateTables } from "./rate-tables.js";

/** Rate tables over an in-memory store: a refused table must never get there. */
function publisher() {
  const rows: RateTableVersion[] = [];
  const store = {
    async append(version: NewRateTableVersion): Promise<RateTableVersion> {
      const row: RateTableVersion = {
        ...version,
        sequence: String(rows.length + 1),
        version: rows.filter((r) => r.tableId === version.tableId).length + 1,
        publishedAt: new Date(),
      };
      rows.push(row);
      return row;
    },
    versions: async (tableId: string) => rows.filter((r) => r.tableId === tableId),
    get: async (tableId: string, version: bigint) => rows.find((r) => r.tableId === tableId && BigInt(r.version) === version) ?? null,
    bySequence: async (sequence: bigint) => rows.find((r) => BigInt(r.sequence) === sequence) ?? null,
  };
  return { rateTables: new RateTables(store), rows };
}

const MAX = 10n ** 15n;
const block = (microsPerRunByValue: Record<string, bigint>, microsPerRun = 1_000_000n): Rate => ({
  bucket: "ai", unit: "credits", kind: "block", block: "ai-text", microsPerRun, configurationKey: "model", microsPerRunByValue,
});
const tokens = (outputMicrosPerMillion: bigint): Rate => ({
  bucket: "ai", unit: "credits", kind: "model_token", model: "claude-sonnet",
  inputMicrosPerMillion: 3_000_000n, outputMicrosPerMillion, cacheReadMicrosPerMillion: 0n, cacheWriteMicrosPerMillion: 0n,
  inputUsdMicrosPerMillion: 0n, outputUsdMicrosPerMillion: 0n,
});

/** The field named by refusing a table of these rates; nothing is published. */
async function refusedField(rates: Rate[]): Promise<string> {
  const { rateTables, rows } = publisher();
  const error = await rateTables.publish({ tableId: "default", rates, actor: "admin", reason: "test" }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(rows).toEqual([]);
  return (error as InvalidArgumentError).field;
}

describe("publishing a rate table", () => {
  it("publishes prices from 0 up to the largest price, in a rate's own fields and per configuration value", async () => {
    const { rateTables, rows } = publisher();
    await rateTables.publish({ tableId: "default", rates: [block({ "gpt-4o": MAX, free: 0n }, MAX), tokens(0n)], actor: "admin", reason: "launch" });
    const { table } = await rateTables.resolve("default", 1n);
    expect(table.rates[0]).toMatchObject({ microsPerRunByValue: { "gpt-4o": MAX, free: 0n } });
    expect(rows).toHaveLength(1);
  });

  it("refuses a negative or out-of-range price for a configuration value, naming the value", async () => {
    expect(await refusedField([block({ "gpt-4o": 3_000_000n, haiku: -1n })])).toBe('rates[0].block.micros_per_run_by_value["haiku"]');
    expect(await refusedField([tokens(1n), block({ "gpt-4o": MAX + 1n })])).toBe('rates[1].block.micros_per_run_by_value["gpt-4o"]');
  });

  it("refuses a negative or out-of-range price in a rate's own fields, naming it as a request does", async () => {
    expect(await refusedField([tokens(-1n)])).toBe("rates[0].model_token.output_micros_per_million");
    expect(await refusedField([tokens(MAX + 1n)])).toBe("rates[0].model_token.output_micros_per_million");
    expect(await refusedField([block({}, MAX + 1n)])).toBe("rates[0].block.micros_per_run");
  });
});
