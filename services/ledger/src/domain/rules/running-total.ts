import { InvalidArgumentError } from "@tollgate/errors";
import { MAX_PRICED_MICROS, type RateTable, type Usage } from "@tollgate/rating";
import { maxBigint } from "../balance.js";
import { precondition, type LedgerError } from "../commands.js";
import { priceAt } from "../pricing.js";
import type { Hold } from "../state.js";

/**
 * A charge on a hold rounds once: the hold keeps what its charges have
 * reported so far (the running total of usage, summed per model, tool,
 * hardware…) and the rounded price of all of it at the rate table version the
 * hold was authorized at; each charge prices the new running total and
 * charges the difference. So a hold's total never depends on how its usage was
 * split into incremental charges (or Meter increments), and a rate table
 * published while the hold is open changes nothing of its price.
 */
export interface RunningPricing {
  /** This charge's usage (the increment). */
  usage: Usage;
  /** The rate table version the charge was priced at: it must be the hold's (see RATE_TABLE_PINNED). */
  table: RateTable;
  /** A bring-your-own-model account: replies at their provider cost. */
  providerCost: boolean;
  /** False for usage the plan leaves unmetered: journaled at zero, the running total unchanged. */
  metered: boolean;
}

export interface RunningCharge {
  pricedUsage: Usage[];
  pricedMicros: bigint;
  /** What this charge costs: the running total's price less what was priced before. */
  amountMicros: bigint;
}

/** The publication sequence holds record for a rate table version. */
export const sequenceOf = (table: RateTable): bigint => table.sequence ?? table.version;

/** The quantities a usage's price is linear in, multiplied out (replicas × seconds, cores × seconds, tokens × epochs). */
function folded(u: Usage): Usage {
  switch (u.kind) {
    case "gpu_time":
      return { ...u, replicas: 1n, seconds: u.replicas * u.seconds };
    case "cpu_time":
      return { ...u, cores: 1n, seconds: u.cores * u.seconds };
    case "fine_tuning":
      return { ...u, epochs: 1n, trainingTokens: u.trainingTokens * u.epochs };
    default:
      return u;
  }
}

/** What a usage is of (its kind and the names it is priced by), without its quantities. */
function identity(u: Usage): string {
  switch (u.kind) {
    case "model_reply":
    case "model_tokens":
      return `${u.kind}:${u.model}`;
    case "block_run":
      return `${u.kind}:${u.block}:${JSON.stringify(Object.entries(u.configuration).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    case "gpu_time":
      return `${u.kind}:${u.gpuType}`;
    case "cpu_time":
      return `${u.kind}:${u.cpuType}`;
    case "hardware_profile_time":
      return `${u.kind}:${u.profile}`;
    case "fine_tuning":
      return `${u.kind}:${u.sizeClass}:${u.hardware}`;
    case "active_time":
      return u.kind;
    case "tool_run":
      return `${u.kind}:${u.tool}`;
  }
}

/** The quantities of each kind of usage that add up (after folding). */
const QUANTITIES: Record<Usage["kind"], readonly string[]> = {
  model_reply: ["replies"],
  model_tokens: ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"],
  block_run: ["runs"],
  gpu_time: ["seconds"],
  cpu_time: ["seconds"],
  hardware_profile_time: ["seconds"],
  fine_tuning: ["trainingTokens"],
  active_time: ["seconds"],
  tool_run: ["runs"],
};

/** Two usages of the same thing, added (both folded). */
function add(a: Usage, b: Usage): Usage {
  const sum: Record<string, unknown> = { ...a };
  const of = (u: Usage, key: string) => (u as unknown as Record<string, bigint>)[key]!;
  for (const key of QUANTITIES[a.kind]) sum[key] = of(a, key) + of(b, key);
  return sum as unknown as Usage;
}

/**
 * The most different things (models, tools, hardware, block configurations…)
 * one hold's running total may hold. Every charge prices the whole total
 * again and the hold stores it, so without a bound a caller naming a new tool
 * in every charge would make each charge on the hold dearer than the last.
 */
export const MAX_USAGE_LINES = 100;

/** The running total of usage with one more increment: summed with the usage of the same thing, else appended. */
export function accumulate(total: readonly Usage[], increment: Usage): Usage[] {
  const next = folded(increment);
  const key = identity(next);
  const at = total.findIndex((u) => identity(u) === key);
  if (at < 0) return [...total, next];
  return total.map((u, i) => (i === at ? add(u, next) : u));
}

/**
 * `RATE_TABLE_PINNED` (naming the hold's version) when `what` was priced at
 * rate table `sequence` and the hold at another: everything on a hold is
 * priced at the version it was authorized at, so the caller prices it again
 * at that one. Null when they agree (or the hold predates pinning).
 */
export function pinnedElsewhere(hold: Hold, sequence: bigint, what: string): LedgerError | null {
  if (hold.rateTableVersion === 0n || hold.rateTableVersion === sequence) return null;
  return {
    code: "FAILED_PRECONDITION", reason: "RATE_TABLE_PINNED", pinnedRateTable: hold.rateTableVersion,
    message: `hold ${hold.holdId} is priced at rate table sequence ${hold.rateTableVersion}, ${what} at ${sequence}`,
  };
}

/**
 * What a charge on `hold` costs under the running-total rule. Refused with
 * `RATE_TABLE_PINNED` (naming the hold's version) when it was priced at
 * another rate table version than the hold's: the caller prices it again at
 * that one.
 */
export function runningCharge(hold: Hold, pricing: RunningPricing): RunningCharge | LedgerError {
  const unchanged = { pricedUsage: hold.pricedUsage, pricedMicros: hold.pricedMicros, amountMicros: 0n };
  if (!pricing.metered) return unchanged;
  const pinned = pinnedElsewhere(hold, sequenceOf(pricing.table), "the charge");
  if (pinned) return pinned;
  const pricedUsage = accumulate(hold.pricedUsage, pricing.usage);
  if (pricedUsage.length > MAX_USAGE_LINES) {
    return {
      code: "FAILED_PRECONDITION", reason: "HOLD_USAGE_LINES",
      message: `hold ${hold.holdId} already prices ${MAX_USAGE_LINES} different kinds of usage (models, tools, hardware…); charge this one on a new hold`,
    };
  }
  let totalMicros = 0n;
  try {
    for (const usage of pricedUsage) totalMicros += priceAt(pricing.table, usage, "usage", pricing.providerCost).amountMicros;
  } catch (error) {
    // The increment alone was priced at this table before; only the running total can leave the price range: the hold's
    // state, not the usage, is what is wrong.
    if (!(error instanceof InvalidArgumentError)) throw error;
    return precondition(
      "HOLD_TOTAL_OUT_OF_RANGE",
      `hold ${hold.holdId} would price above ${MAX_PRICED_MICROS} micro-units in all with this usage: charge it without the hold, or on a new one (Release closes this one)`,
    );
  }
  // Quantities only grow and each line rounds monotonically, so the total never falls; the guard keeps a charge from being negative.
  const pricedMicros = maxBigint(totalMicros, hold.pricedMicros);
  return { pricedUsage, pricedMicros, amountMicros: pricedMicros - hold.pricedMicros };
}
