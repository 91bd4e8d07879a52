import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import type { LineItem, Rate, RateTable, Usage } from "./types.js";

/**
 * Rounding rule (the only one in Tollgate): a usage's amount is the sum of
 * its parts' quantity × rate ÷ per, rounded once, half-up to the micro-unit,
 * computed in integers. A usage priced in several line items (a reply's
 * input, output and cache tokens) is rounded on its total, and its line
 * items split that total (`splitRounded`); a quote's total is the sum of its
 * usages'.
 */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError("denominator must be positive");
  if (numerator < 0n) throw new RangeError("amounts are never negative");
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/**
 * The quantity each kind of rate is quoted per (a line item's `ratePer`): a
 * rate per million tokens prices tokens, an hourly rate seconds, a rate per
 * minute seconds. The one place a quote and a receipt of a charge read it.
 */
export const QUANTITY_PER_RATE: Readonly<Record<Rate["kind"], bigint>> = {
  model_reply: 1n,
  model_token: 1_000_000n,
  tool_run: 1n,
  block: 1n,
  gpu_hour: 3_600n,
  cpu_core_hour: 3_600n,
  hardware_profile_hour: 3_600n,
  active_minute: 60n,
  fine_tuning: 1_000_000n,
};

/** One quantity a rate prices: what a line of it says, and its micro-units per QUANTITY_PER_RATE of the rate's kind. */
export interface RateLine {
  description: string;
  micros: bigint;
}

/**
 * The lines a rate prices, one per quantity (a token rate prices input,
 * output, cache read and cache write tokens, in that order): the one place a
 * quote's line items and a charge's receipt take their descriptions from.
 * `name` stands for the rate's own name where the priced thing is named
 * otherwise: a tool priced by the table's default tool rate, or a block run
 * at one of its configuration's values.
 */
export function rateLines(rate: Rate, name?: string): RateLine[] {
  switch (rate.kind) {
    case "model_reply":
      return [{ description: `${name ?? rate.model} replies`, micros: rate.microsPerReply }];
    case "model_token": {
      const model = name ?? rate.model;
      return [
        { description: `${model} input tokens`, micros: rate.inputMicrosPerMillion },
        { description: `${model} output tokens`, micros: rate.outputMicrosPerMillion },
        { description: `${model} cache read tokens`, micros: rate.cacheReadMicrosPerMillion },
        { description: `${model} cache write tokens`, micros: rate.cacheWriteMicrosPerMillion },
      ];
    }
    case "tool_run":
      return [{ description: `${name ?? (rate.tool || "tool")} runs`, micros: rate.microsPerRun }];
    case "block":
      return [{ description: `${name ?? rate.block} runs`, micros: rate.microsPerRun }];
    case "gpu_hour":
      return [{ description: `${name ?? rate.gpuType} replica-seconds`, micros: rate.microsPerReplicaHour }];
    case "cpu_core_hour":
      return [{ description: `${name ?? rate.cpuType} core-seconds`, micros: rate.microsPerCoreHour }];
    case "hardware_profile_hour":
      return [{ description: `${name ?? rate.profile} seconds`, micros: rate.microsPerHour }];
    case "fine_tuning":
      return [{ description: `fine-tuning ${rate.sizeClass} on ${rate.hardware} token-epochs`, micros: rate.microsPerMillionTokensPerEpoch }];
    case "active_minute":
      return [{ description: "active seconds", micros: rate.microsPerMinute }];
  }
}

/** A rate's only line (every kind but the token rate has one). */
function onlyLine(rate: Rate, name?: string): RateLine {
  return rateLines(rate, name)[0]!;
}

function find<K extends Rate["kind"]>(
  table: RateTable,
  kind: K,
  matches: (rate: Extract<Rate, { kind: K }>) => boolean,
): Extract<Rate, { kind: K }> | undefined {
  return table.rates.find((rate): rate is Extract<Rate, { kind: K }> => rate.kind === kind && matches(rate as Extract<Rate, { kind: K }>));
}

function nonNegative(field: string, value: bigint): bigint {
  if (value < 0n) throw new InvalidArgumentError(field, "must not be negative");
  return value;
}

function item(rate: Rate, table: RateTable, line: RateLine, quantity: bigint, amountMicros = roundHalfUp(quantity * line.micros, QUANTITY_PER_RATE[rate.kind])): LineItem {
  const ratePer = QUANTITY_PER_RATE[rate.kind];
  return {
    bucket: rate.bucket,
    unit: rate.unit,
    description: line.description,
    quantity,
    rateMicros: line.micros,
    ratePer,
    amountMicros,
    rateTableVersion: table.version,
    rounding: "half_up",
  };
}

/**
 * The amounts of line items that share one `per`, rounded once on their
 * total: the total of the exact amounts rounded half-up, split so each line
 * is its exact amount rounded down, plus one micro-unit for the lines with
 * the largest remainders (the earlier line first on a tie) until the lines
 * add up to the total. Each line is within one micro-unit of exact.
 */
export function splitRounded(numerators: readonly bigint[], per: bigint): bigint[] {
  const total = roundHalfUp(numerators.reduce((sum, n) => sum + n, 0n), per);
  const amounts = numerators.map((n) => n / per);
  let left = total - amounts.reduce((sum, a) => sum + a, 0n);
  const byRemainder = numerators.map((n, index) => ({ index, remainder: n % per })).sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of byRemainder) {
    if (left <= 0n) break;
    amounts[index]! += 1n;
    left -= 1n;
  }
  return amounts;
}

/** Line items of one usage priced per million tokens, rounded once on their total (`splitRounded`). */
function perMillionItems(rate: Rate, table: RateTable, parts: readonly (readonly [RateLine, bigint])[]): LineItem[] {
  const amounts = splitRounded(parts.map(([line, quantity]) => quantity * line.micros), QUANTITY_PER_RATE[rate.kind]);
  return parts.map(([line, quantity], index) => item(rate, table, line, quantity, amounts[index]));
}

/**
 * The most one usage (or one quote) may price at: 10^15 micro-units, a
 * thousand million credits or dollars. Far below int64's 9.2 × 10^18, so no
 * sum a balance, hold or report makes from such amounts can overflow; a
 * quantity × rate above it is INVALID_ARGUMENT before anything is written.
 */
export const MAX_PRICED_MICROS = 10n ** 15n;

/** The line items of a price a request may ask for: INVALID_ARGUMENT on `field` above MAX_PRICED_MICROS, checked by callers before anything is written. */
export function withinPriceRange(lines: LineItem[], field: string): LineItem[] {
  if (lines.some((line) => line.amountMicros > MAX_PRICED_MICROS) || totalMicros(lines) > MAX_PRICED_MICROS) {
    throw new InvalidArgumentError(field, `prices above ${MAX_PRICED_MICROS} micro-units (quantity × rate is out of range)`);
  }
  return lines;
}

/** Prices one usage against a rate table (exact, in integers of any size). Unknown names are NOT_FOUND. */
export function quoteUsage(table: RateTable, usage: Usage, field = "usage"): LineItem[] {
  switch (usage.kind) {
    case "model_reply": {
      const replies = nonNegative(`${field}.model_reply.replies`, usage.replies);
      const rate = find(table, "model_reply", (r) => r.model === usage.model);
      if (!rate) {
        if (find(table, "model_token", (r) => r.model === usage.model))
          throw new InvalidArgumentError(`${field}.model_reply`, `model ${usage.model} is priced per token, not per reply`);
        throw new NotFoundError("model", usage.model);
      }
      return [item(rate, table, onlyLine(rate), replies)];
    }
    case "model_tokens": {
      const rate = find(table, "model_token", (r) => r.model === usage.model);
      if (!rate) {
        if (find(table, "model_reply", (r) => r.model === usage.model))
          throw new InvalidArgumentError(`${field}.model_tokens`, `model ${usage.model} is priced per reply, not per token`);
        throw new NotFoundError("model", usage.model);
      }
      // In rateLines' order: input, output, cache read, cache write.
      const quantities = [
        nonNegative(`${field}.model_tokens.input_tokens`, usage.inputTokens),
        nonNegative(`${field}.model_tokens.output_tokens`, usage.outputTokens),
        nonNegative(`${field}.model_tokens.cache_read_tokens`, usage.cacheReadTokens),
        nonNegative(`${field}.model_tokens.cache_write_tokens`, usage.cacheWriteTokens),
      ];
      const parts = rateLines(rate).map((line, index) => [line, quantities[index]!] as const);
      return perMillionItems(rate, table, parts.filter(([, quantity]) => quantity > 0n));
    }
    case "block_run": {
      const runs = nonNegative(`${field}.block_run.runs`, usage.runs);
      const rate = find(table, "block", (r) => r.block === usage.block);
      if (!rate) throw new NotFoundError("block", usage.block);
      let micros = rate.microsPerRun;
      let label: string | undefined;
      if (rate.configurationKey) {
        // Own properties only: a value such as "constructor" must not find Object.prototype's.
        const value = Object.hasOwn(usage.configuration, rate.configurationKey) ? usage.configuration[rate.configurationKey] : undefined;
        const chosen = value !== undefined && Object.hasOwn(rate.microsPerRunByValue, value) ? rate.microsPerRunByValue[value] : undefined;
        if (chosen !== undefined) {
          micros = chosen;
          label = `${usage.block} (${rate.configurationKey}=${value})`;
        }
      }
      return [item(rate, table, { description: onlyLine(rate, label).description, micros }, runs)];
    }
    case "gpu_time": {
      const rate = find(table, "gpu_hour", (r) => r.gpuType === usage.gpuType);
      if (!rate) throw new NotFoundError("gpu type", usage.gpuType);
      const replicaSeconds = nonNegative(`${field}.gpu_time.replicas`, usage.replicas) * nonNegative(`${field}.gpu_time.seconds`, usage.seconds);
      return [item(rate, table, onlyLine(rate), replicaSeconds)];
    }
    case "cpu_time": {
      const rate = find(table, "cpu_core_hour", (r) => r.cpuType === usage.cpuType);
      if (!rate) throw new NotFoundError("cpu type", usage.cpuType);
      const coreSeconds = nonNegative(`${field}.cpu_time.cores`, usage.cores) * nonNegative(`${field}.cpu_time.seconds`, usage.seconds);
      return [item(rate, table, onlyLine(rate), coreSeconds)];
    }
    case "hardware_profile_time": {
      const rate = find(table, "hardware_profile_hour", (r) => r.profile === usage.profile);
      if (!rate) throw new NotFoundError("hardware profile", usage.profile);
      const seconds = nonNegative(`${field}.hardware_profile_time.seconds`, usage.seconds);
      return [item(rate, table, onlyLine(rate), seconds)];
    }
    case "fine_tuning": {
      const rate = find(table, "fine_tuning", (r) => r.sizeClass === usage.sizeClass && r.hardware === usage.hardware);
      if (!rate) throw new NotFoundError("fine-tuning rate", `${usage.sizeClass}/${usage.hardware}`);
      const tokenEpochs =
        nonNegative(`${field}.fine_tuning.training_tokens`, usage.trainingTokens) * nonNegative(`${field}.fine_tuning.epochs`, usage.epochs);
      return [item(rate, table, onlyLine(rate), tokenEpochs)];
    }
    case "active_time": {
      const rate = find(table, "active_minute", () => true);
      if (!rate) throw new NotFoundError("rate", "active_minute");
      const seconds = nonNegative(`${field}.active_time.seconds`, usage.seconds);
      return [item(rate, table, onlyLine(rate), seconds)];
    }
    case "tool_run": {
      const rate = find(table, "tool_run", (r) => r.tool === usage.tool) ?? find(table, "tool_run", (r) => r.tool === "");
      if (!rate) throw new NotFoundError("tool", usage.tool);
      const runs = nonNegative(`${field}.tool_run.runs`, usage.runs);
      return [item(rate, table, onlyLine(rate, usage.tool || undefined), runs)];
    }
  }
}

/**
 * What a bring-your-own-model reply cost the customer at their provider, in
 * micro-USD, from the token rate's optional USD prices: tracked against a
 * BYOM account's spend cap. Undefined when the usage is not priced per token
 * or the model has no USD price. Cache reads and writes count at their own
 * USD prices (none given: they add nothing); a reply with nothing priced costs
 * 0 USD (one line of 0, so it is still priced in USD, not in credits).
 */
export function quoteProviderCost(table: RateTable, usage: Usage, field = "usage"): LineItem[] | undefined {
  if (usage.kind !== "model_tokens") return undefined;
  const rate = find(table, "model_token", (r) => r.model === usage.model);
  if (!rate || (rate.inputUsdMicrosPerMillion === 0n && rate.outputUsdMicrosPerMillion === 0n)) return undefined;
  const usd: Rate = { ...rate, unit: "usd" };
  const line = (label: string, micros: bigint): RateLine => ({ description: `${usage.model} ${label} (provider cost)`, micros });
  const parts: [RateLine, bigint][] = [
    [line("input tokens", rate.inputUsdMicrosPerMillion), nonNegative(`${field}.model_tokens.input_tokens`, usage.inputTokens)],
    [line("output tokens", rate.outputUsdMicrosPerMillion), nonNegative(`${field}.model_tokens.output_tokens`, usage.outputTokens)],
  ];
  const [cacheRead, cacheWrite] = [rate.cacheReadUsdMicrosPerMillion ?? 0n, rate.cacheWriteUsdMicrosPerMillion ?? 0n];
  if (cacheRead > 0n) parts.push([line("cache reads", cacheRead), nonNegative(`${field}.model_tokens.cache_read_tokens`, usage.cacheReadTokens)]);
  if (cacheWrite > 0n) parts.push([line("cache writes", cacheWrite), nonNegative(`${field}.model_tokens.cache_write_tokens`, usage.cacheWriteTokens)]);
  const used = parts.filter(([, quantity]) => quantity > 0n);
  return perMillionItems(usd, table, used.length > 0 ? used : parts.slice(0, 1));
}

export function quote(table: RateTable, usages: Usage[]): LineItem[] {
  return usages.flatMap((usage, index) => quoteUsage(table, usage, `usage[${index}]`));
}

/** Sum of line items per unit (a usage may price in one unit only). */
export function totalMicros(items: LineItem[]): bigint {
  return items.reduce((sum, line) => sum + line.amountMicros, 0n);
}

/** The version of a table in effect at `at`: the latest published version whose effective_from has passed. */
export function versionInEffect(versions: RateTable[], at: Date): RateTable | undefined {
  let best: RateTable | undefined;
  for (const table of versions) {
    if (table.effectiveFrom.getTime() > at.getTime()) continue;
    if (!best || table.effectiveFrom > best.effectiveFrom || (table.effectiveFrom.getTime() === best.effectiveFrom.getTime() && table.version > best.version)) {
      best = table;
    }
  }
  return best;
}

/**
 * The version that prices usage that happened at `at`: the one in effect
 * then. Usage from before the table's first version (late usage of an
 * account whose table was made after it) is priced at the earliest version
 * already in effect at `now`; none when no version is in effect yet.
 */
export function versionForUsage(versions: RateTable[], at: Date, now: Date): RateTable | undefined {
  const then = versionInEffect(versions, at);
  if (then) return then;
  // The first moment a version took effect, and the version in effect from it (of two published for it, the later).
  let first: number | undefined;
  for (const table of versions) {
    const from = table.effectiveFrom.getTime();
    if (from <= now.getTime() && (first === undefined || from < first)) first = from;
  }
  return first === undefined ? undefined : versionInEffect(versions, new Date(first));
}
