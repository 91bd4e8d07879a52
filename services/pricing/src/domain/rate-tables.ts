import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { checkTableId, MAX_PRICED_MICROS, quote, versionInEffect, withinPriceRange, type LineItem, type Rate, type RateTable, type Usage } from "@tollgate/rating";
import type { RateTableStore } from "../data/rate-table-store.js";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";
import { ratesFromJson, ratesToJson } from "../data/rate-json.js";

export interface PublishRateTableCommand {
  tableId: string;
  effectiveFrom?: Date;
  rates: Rate[];
  actor: string;
  /** The person the actor acted for (the console's admin), recorded beside it. */
  onBehalfOf?: string | undefined;
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

/**
 * Every price a rate carries, named as a request names it (relative to the
 * rate): its own fields and each entry of a by-value map, e.g.
 * `block.micros_per_run_by_value["gpt-4o"]`. Exhaustive per kind, so a new
 * kind cannot be published unchecked.
 */
function ratePrices(rate: Rate): [field: string, micros: bigint][] {
  switch (rate.kind) {
    case "model_reply":
      return [["model_reply.micros_per_reply", rate.microsPerReply]];
    case "model_token":
      return [
        ["model_token.input_micros_per_million", rate.inputMicrosPerMillion],
        ["model_token.output_micros_per_million", rate.outputMicrosPerMillion],
        ["model_token.cache_read_micros_per_million", rate.cacheReadMicrosPerMillion],
        ["model_token.cache_write_micros_per_million", rate.cacheWriteMicrosPerMillion],
        ["model_token.input_usd_micros_per_million", rate.inputUsdMicrosPerMillion],
        ["model_token.output_usd_micros_per_million", rate.outputUsdMicrosPerMillion],
        ["model_token.cache_read_usd_micros_per_million", rate.cacheReadUsdMicrosPerMillion ?? 0n],
        ["model_token.cache_write_usd_micros_per_million", rate.cacheWriteUsdMicrosPerMillion ?? 0n],
      ];
    case "block":
      return [
        ["block.micros_per_run", rate.microsPerRun],
        ...Object.entries(rate.microsPerRunByValue).map(([value, micros]): [string, bigint] => [`block.micros_per_run_by_value[${JSON.stringify(value)}]`, micros]),
      ];
    case "gpu_hour":
      return [["gpu_hour.micros_per_replica_hour", rate.microsPerReplicaHour]];
    case "cpu_core_hour":
      return [["cpu_core_hour.micros_per_core_hour", rate.microsPerCoreHour]];
    case "hardware_profile_hour":
      return [["hardware_profile_hour.micros_per_hour", rate.microsPerHour]];
    case "fine_tuning":
      return [["fine_tuning.micros_per_million_training_tokens_per_epoch", rate.microsPerMillionTokensPerEpoch]];
    case "active_minute":
      return [["active_minute.micros_per_minute", rate.microsPerMinute]];
    case "tool_run":
      return [["tool_run.micros_per_run", rate.microsPerRun]];
  }
}

/**
 * A rate's prices are from 0 to MAX_PRICED_MICROS, whether a field of the rate
 * or a value of a map: the bound the request rules give each top-level rate
 * (they cannot reach into a map), so no price can push a quote out of range.
 */
function pricesInRange(rate: Rate, field: string): void {
  for (const [name, micros] of ratePrices(rate)) {
    if (micros < 0n || micros > MAX_PRICED_MICROS) throw new InvalidArgumentError(`${field}.${name}`, `must be from 0 to ${MAX_PRICED_MICROS}`);
  }
}

export function toRateTable(row: RateTableVersion): RateTable {
  return { tableId: row.tableId, version: BigInt(row.version), sequence: BigInt(row.sequence), effectiveFrom: row.effectiveFrom, rates: ratesFromJson(row.rates) };
}

export class RateTables {
  constructor(private readonly store: Pick<RateTableStore, "append" | "versions" | "get" | "bySequence">, private readonly now: () => Date = () => new Date()) {}

  /**
   * Publishes a new version. A future effective_from schedules it. History is
   * never rewritten: a version may not take effect before the one already in
   * effect (it would never be in effect now, and would reprice late usage
   * from before it).
   */
  async publish(command: PublishRateTableCommand): Promise<{ table: RateTable; row: RateTableVersion }> {
    checkTableId("table_id", command.tableId);
    if (!command.actor) throw new InvalidArgumentError("actor", "is required");
    if (command.rates.length === 0) throw new InvalidArgumentError("rates", "at least one rate is required");
    const seen = new Map<string, number>();
    command.rates.forEach((rate, index) => {
      const key = rateKey(rate);
      if (seen.has(key)) throw new InvalidArgumentError(`rates[${index}]`, `duplicates rates[${seen.get(key)}] (${key})`);
      seen.set(key, index);
      pricesInRange(rate, `rates[${index}]`);
    });
    const effectiveFrom = command.effectiveFrom ?? this.now();
    // Checked on the versions as they are once this publication has its turn, and at that time: one committed meanwhile
    // (in effect from when it was published) counts.
    const notBeforeInEffect = (versions: RateTableVersion[]) => {
      const inEffect = command.effectiveFrom ? versionInEffect(versions.map(toRateTable), this.now()) : undefined;
      if (inEffect && effectiveFrom < inEffect.effectiveFrom) {
        throw new FailedPreconditionError(
          `effective_from: ${effectiveFrom.toISOString()} is before ${command.tableId} version ${inEffect.version}, in effect since ${inEffect.effectiveFrom.toISOString()}; a new version takes effect from then or later (leave effective_from out to take effect now)`,
          "EFFECTIVE_FROM_BEFORE_VERSION_IN_EFFECT",
          { field: "effective_from", version_in_effect: inEffect.version.toString(), in_effect_since: inEffect.effectiveFrom.toISOString() },
        );
      }
    };
    const row = await this.store.append({
      tableId: command.tableId,
      effectiveFrom,
      publishedBy: command.actor,
      publishedOnBehalfOf: command.onBehalfOf ?? null,
      reason: command.reason,
      rates: ratesToJson(command.rates),
    }, notBeforeInEffect);
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
