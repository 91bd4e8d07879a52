import { describe, expect, it } from "vitest";
import { FailedPreconditionError, InvalidArgumentError } from "@tollgate/errors";
import type { Rate } from "@tollgate/rating";
import type { NewRateTableVersion } from "../data/rate-table-store.js";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";
import { RateTables } from "./rate-tables.js";

/** Rate tables over an in-memory store: a refused table must never get there. */
function publisher(now?: () => Date) {
  const rows: RateTableVersion[] = [];
  const store = {
    async append(version: NewRateTableVersion, check?: (versions: RateTableVersion[]) => void): Promise<RateTableVersion> {
      check?.(rows.filter((r) => r.tableId === version.tableId));
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
  return { rateTables: new RateTables(store, now), rows };
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
  it("takes a table id of 1–64 lowercase letters, digits, - and _ (the only bound on it: requests take up to 128 for any id), and refuses others naming table_id", async () => {
    const { rateTables, rows } = publisher();
    await rateTables.publish({ tableId: `t${"a".repeat(63)}`, rates: [tokens(0n)], actor: "admin", reason: "longest" });
    for (const tableId of [`t${"a".repeat(64)}`, "Default", "-lead", "", "tab le"]) {
      const error = await rateTables.publish({ tableId, rates: [tokens(0n)], actor: "admin", reason: "test" }).catch((e: unknown) => e);
      expect(error, tableId).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).field).toBe("table_id");
    }
    expect(rows.map((r) => r.tableId)).toEqual([`t${"a".repeat(63)}`]);
  });

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

describe("when a version takes effect", () => {
  const at = (iso: string) => new Date(iso);
  const publish = (rateTables: RateTables, effectiveFrom?: Date) =>
    rateTables.publish({ tableId: "default", rates: [tokens(15_000_000n)], actor: "admin", reason: "test", ...(effectiveFrom ? { effectiveFrom } : {}) });

  it("refuses a version that would take effect before the one in effect, naming effective_from, and publishes nothing", async () => {
    const { rateTables, rows } = publisher(() => at("2026-06-15T00:00:00Z"));
    await publish(rateTables, at("2026-01-01T00:00:00Z"));
    await publish(rateTables, at("2026-06-01T00:00:00Z"));
    const error = await publish(rateTables, at("2026-05-31T23:59:59Z")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error).toMatchObject({
      reason: "EFFECTIVE_FROM_BEFORE_VERSION_IN_EFFECT",
      message: expect.stringMatching(/^effective_from: 2026-05-31T23:59:59.000Z is before default version 2, in effect since 2026-06-01T00:00:00.000Z/),
      metadata: { field: "effective_from", version_in_effect: "2", in_effect_since: "2026-06-01T00:00:00.000Z" },
    });
    expect(rows).toHaveLength(2);
  });

  it("takes a version from the in-effect one's start on, a scheduled one before another scheduled one, and one without a date from now", async () => {
    const { rateTables, rows } = publisher(() => at("2026-06-15T00:00:00Z"));
    await publish(rateTables, at("2026-06-01T00:00:00Z"));
    await publish(rateTables, at("2026-06-01T00:00:00Z")); // the same start: the later version wins from then
    await publish(rateTables, at("2026-08-01T00:00:00Z"));
    await publish(rateTables, at("2026-07-01T00:00:00Z")); // before the August one, which is not in effect yet
    await publish(rateTables);
    expect(rows.map((r) => [r.version, r.effectiveFrom.toISOString()])).toEqual([
      [1, "2026-06-01T00:00:00.000Z"],
      [2, "2026-06-01T00:00:00.000Z"],
      [3, "2026-08-01T00:00:00.000Z"],
      [4, "2026-07-01T00:00:00.000Z"],
      [5, "2026-06-15T00:00:00.000Z"],
    ]);
    expect((await rateTables.resolve("default", 0n, at("2026-07-15T00:00:00Z"))).table.version).toBe(4n);
  });

  it("publishes a table's first version from any date, so history before it can be priced", async () => {
    const { rateTables, rows } = publisher(() => at("2026-06-15T00:00:00Z"));
    await publish(rateTables, at("2020-01-01T00:00:00Z"));
    expect(rows).toHaveLength(1);
  });
});
