import { QUANTITY_PER_RATE, rateLines, type Bucket, type Rate, type RateLine, type RateTable, type Unit } from "@tollgate/rating";

/** One priced line of a receipt: a rate of the version that priced the charge, and the quantity it priced when that can be told. */
export interface ReceiptLine {
  bucket: Bucket;
  unit: Unit;
  description: string;
  rateMicros: bigint;
  ratePer: bigint;
  /** 0 when unknown. */
  quantity: bigint;
  quantityKnown: boolean;
  /** What the line priced; 0 when the charge spans several lines whose split is not recorded. */
  amountMicros: bigint;
}

/** What a charge names of its usage: the attribution's model, tool or block, or the metered work's usage (runs and deployments). */
export interface ChargedItem {
  model?: string | undefined;
  tool?: string | undefined;
  block?: string | undefined;
  /** A metered run's or deployment's usage as stored (kind plus gpuType, cpuType or profile). */
  work?: Record<string, unknown> | undefined;
  /** The charge's bucket and unit: only rates of these priced it (a reply attributed to a tool is not a tool run). */
  bucket?: string | undefined;
  unit?: string | undefined;
}

/** Whether a rate prices what the charge names. */
function prices(rate: Rate, item: ChargedItem): boolean {
  const work = item.work;
  switch (rate.kind) {
    case "model_reply":
    case "model_token":
      return rate.model === item.model;
    case "tool_run":
      return item.tool !== undefined && rate.tool === item.tool;
    case "block":
      return rate.block === item.block;
    case "gpu_hour":
      return work?.kind === "gpu_time" && work.gpuType === rate.gpuType;
    case "cpu_core_hour":
      return work?.kind === "cpu_time" && work.cpuType === rate.cpuType;
    case "hardware_profile_hour":
      return work?.kind === "hardware_profile_time" && work.profile === rate.profile;
    case "active_minute":
      return work?.kind === "active_time";
    case "fine_tuning":
      return false;
  }
}

/** The rates of the table that price what the charge names, each with the lines it prices (rating's `rateLines`). */
function ratesFor(table: RateTable, item: ChargedItem): { rate: Rate; line: RateLine }[] {
  const found = table.rates.filter((rate) => prices(rate, item)).flatMap((rate) => rateLines(rate).map((line) => ({ rate, line })));
  // A tool without its own rate is priced by the table's default tool rate (tool "").
  if (item.tool !== undefined && !found.some(({ rate }) => rate.kind === "tool_run")) {
    const fallback = table.rates.find((rate) => rate.kind === "tool_run" && rate.tool === "");
    if (fallback) found.push(...rateLines(fallback, item.tool || undefined).map((line) => ({ rate: fallback, line })));
  }
  return found;
}

/**
 * The line items of a charge, re-priced from the rate table version that
 * priced it. The ledger records what a charge cost and what it named (model,
 * tool, block, or the metered work), not the usage's quantities: a quantity
 * is given only when the amount names exactly one at a single rate (a rate of
 * at least one micro-unit per unit of quantity, dividing the amount exactly),
 * e.g. replies, tool runs, block runs, seconds of metered time.
 */
export function receiptLines(table: RateTable | undefined, item: ChargedItem, amountMicros: bigint): ReceiptLine[] {
  if (!table) return [];
  const rates = ratesFor(table, item).filter(({ rate }) => (!item.bucket || rate.bucket === item.bucket) && (!item.unit || rate.unit === item.unit));
  return rates.map(({ rate, line: { description, micros } }) => {
    const per = QUANTITY_PER_RATE[rate.kind];
    const single = rates.length === 1;
    const exact = single && amountMicros > 0n && micros >= per && (amountMicros * per) % micros === 0n;
    return {
      bucket: rate.bucket,
      unit: rate.unit,
      description,
      rateMicros: micros,
      ratePer: per,
      quantity: exact ? (amountMicros * per) / micros : 0n,
      quantityKnown: exact,
      amountMicros: single ? amountMicros : 0n,
    };
  });
}
