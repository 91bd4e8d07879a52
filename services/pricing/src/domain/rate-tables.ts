import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { quote, versionInEffect, withinPriceRange, type LineItem, type Rate, type RateTable, type Usage } from "@tollgate/rating";
import type { RateTableStore } from "../data/rate-table-store.js";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";
import { ratesFromJson, ratesToJson } from "../data/rate-json.js";

export interface PublishRateTableCommand {
  tableId: string;
  effectiveFrom?: Date;
  rates: Rate[];
  actor: string;
  reason: string;
}

/** The key that identifies "the same rate" across versions (for duplicates and diffs). */
export function rateKey(rate: Rate): string {
  switch (rate.kind) {
    case "model_reply":
    case "model_token":
      return `model:${rate.model}`;
    case "block":
      return `block:${rate.block}`;
    case "gpu_hour":
      return `gpu:${rate.gpuType}`;
    case "cpu_core_hour":
      return `cpu:${rate.cpuType}`;
    case "hardware_profile_hour":
      return `hardware_profile:${rate.profile}`;
    case "fine_tuning":
      return `fine_tuning:${rate.sizeClass}/${rate.hardware}`;
    case "active_minute":
      return "active_minute";
    case "tool_run":
      return `tool:${rate.tool || "*"}`;
  }
}

export function toRateTable(row: RateTableVersion): RateTable {
  return { tableId: row.tableId, version: BigInt(row.version), sequence: BigInt(row.sequence), effectiveFrom: row.effectiveFrom, rates: ratesFromJson(row.rates) };
}

export class RateTables {
  constructor(private readonly store: RateTableStore, private readonly now: () => Date = () => new Date()) {}

  /** Publishes a new version. History is never rewritten; a future effective_from schedules it. */
  async publish(command: PublishRateTableCommand): Promise<{ table: RateTable; row: RateTableVersion }> {
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(command.tableId))
      throw new InvalidArgumentError("table_id", "use 1–64 lowercase letters, digits, '-' or '_'");
    if (!command.actor) throw new InvalidArgumentError("actor", "is required");
    if (command.rates.length === 0) throw new InvalidArgumentError("rates", "at least one rate is required");
    const seen = new Map<string, number>();
    command.rates.forEach((rate, index) => {
      const key = rateKey(rate);
      if (seen.has(key)) throw new InvalidArgumentError(`rates[${index}]`, `duplicates rates[${seen.get(key)}] (${key})`);
      seen.set(key, index);
      for (const [field, value] of Object.entries(rate)) {
        if (typeof value === "bigint" && value < 0n) throw new InvalidArgumentError(`rates[${index}].${field}`, "must not be negative");
      }
    });
    const row = await this.store.append({
      tableId: command.tableId,
      effectiveFrom: command.effectiveFrom ?? this.now(),
      publishedBy: command.actor,
      reason: command.reason,
      rates: ratesToJson(command.rates),
    });
    return { table: toRateTable(row), row };
  }

  /** A pinned version, or the version in effect at `at` (default now). */
  async resolve(tableId: string, version: bigint, at?: Date): Promise<{ table: RateTable; row: RateTableVersion }> {
    if (version > 0n) {
      const row = await this.store.get(tableId, version);
      if (!row) throw new NotFoundError("rate table version", `${tableId}@${version}`);
      return { table: toRateTable(row), row };
    }
    const rows = await this.store.versions(tableId);
    if (rows.length === 0) throw new NotFoundError("rate table", tableId);
    const inEffect = versionInEffect(rows.map(toRateTable), at ?? this.now());
    if (!inEffect) throw new NotFoundError("rate table in effect", `${tableId} at ${(at ?? this.now()).toISOString()}`);
    return { table: inEffect, row: rows.find((r) => BigInt(r.version) === inEffect.version)! };
  }

  /** The version published with this sequence (what the ledger recorded on a hold or entry). */
  async published(sequence: bigint): Promise<RateTableVersion> {
    const row = await this.store.bySequence(sequence);
    if (!row) throw new NotFoundError("rate table version", `sequence ${sequence}`);
    return row;
  }

  async quote(tableId: string, usages: Usage[], version: bigint, at?: Date): Promise<{ lines: LineItem[]; version: bigint }> {
    const { table } = await this.resolve(tableId, version, at);
    return { lines: withinPriceRange(quote(table, usages), "usage"), version: table.version };
  }

  async diff(tableId: string, from: bigint, to: bigint): Promise<{ key: string; before?: Rate; after?: Rate }[]> {
    const [{ table: before }, { table: after }] = await Promise.all([this.resolve(tableId, from), this.resolve(tableId, to)]);
    const beforeByKey = new Map(before.rates.map((r) => [rateKey(r), r]));
    const afterByKey = new Map(after.rates.map((r) => [rateKey(r), r]));
    const keys = [...new Set([...beforeByKey.keys(), ...afterByKey.keys()])].sort();
    const same = (a?: Rate, b?: Rate) => JSON.stringify(ratesToJson(a ? [a] : [])) === JSON.stringify(ratesToJson(b ? [b] : []));
    return keys
      .filter((key) => !same(beforeByKey.get(key), afterByKey.get(key)))
      .map((key) => ({ key, before: beforeByKey.get(key), after: afterByKey.get(key) }));
  }
}
