import { QUANTITY_PER_RATE, type Bucket, type Rate, type RateTable, type Unit } from "@tollgate/rating";

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

/** The rates of the table that price what the charge names, each with its line's description and micro-units per QUANTITY_PER_RATE of its kind. */
function ratesFor(table: RateTable, item: ChargedItem): { rate: Rate; description: string; micros: bigint }[] {
  const found: { rate: Rate; description: string; micros: bigint }[] = [];
  const work = item.work;
  for (const rate of table.rates) {
    switch (rate.kind) {
      case "model_reply":
        if (rate.model === item.model) found.push({ rate, description: `${rate.model} replies`, micros: rate.microsPerReply });
        break;
      case "model_token":
        if (rate.model === item.model) {
          found.push(
            { rate, description: `${rate.model} input tokens`, micros: rate.inputMicrosPerMillion },
            { rate, description: `${rate.model} output tokens`, micros: rate.outputMicrosPerMillion },
            { rate, description: `${rate.model} cache read tokens`, micros: rate.cacheReadMicrosPerMillion },
            { rate, description: `${rate.model} cache write tokens`, micros: rate.cacheWriteMicrosPerMillion },
          );
        }
        break;
      case "tool_run":
        if (item.tool !== undefined && rate.tool === item.tool) found.push({ rate, description: `${rate.tool} runs`, micros: rate.microsPerRun });
        break;
      case "block":
        if (rate.block === item.block) found.push({ rate, description: `${rate.block} runs`, micros: rate.microsPerRun });
        break;
      case "gpu_hour":
        if (work?.kind === "gpu_time" && work.gpuType === rate.gpuType) found.push({ rate, description: `${rate.gpuType} replica-seconds`, micros: rate.microsPerReplicaHour });
        break;
      case "cpu_core_hour":
        if (work?.kind === "cpu_time" && work.cpuType === rate.cpuType) found.push({ rate, description: `${rate.cpuType} core-seconds`, micros: rate.microsPerCoreHour });
        break;
      case "hardware_profile_hour":
        if (work?.kind === "hardware_profile_time" && work.profile === rate.profile) found.push({ rate, description: `${rate.profile} seconds`, micros: rate.microsPerHour });
        break;
      case "active_minute":
        if (work?.kind === "active_time") found.push({ rate, description: "active seconds", micros: rate.microsPerMinute });
        break;
    }
  }
  // A tool without its own rate is priced by the table's default tool rate (tool "").
  if (item.tool !== undefined && !found.some((f) => f.rate.kind === "tool_run")) {
    const fallback = table.rates.find((rate) => rate.kind === "tool_run" && rate.tool === "");
    if (fallback?.kind === "tool_run") found.push({ rate: fallback, description: `${item.tool} runs`, micros: fallback.microsPerRun });
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
  return rates.map(({ rate, description, micros }) => {
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
