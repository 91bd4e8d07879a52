import type { Unit } from "./types.js";

/** Micro-units in one whole unit: a credit, a dollar or a tool run (tool runs are whole counts scaled the same way). */
export const MICROS_PER_UNIT = 1_000_000n;

const UNIT_NAMES: Record<Unit, string> = { credits: "credits", tool_runs: "tool runs", usd: "USD" };

/** Integer micro-units as a decimal number of whole units, exactly, without trailing zeros ("-5.25", "0.000001", "2000"). */
export function formatMicros(micros: bigint | string): string {
  const value = BigInt(micros);
  const magnitude = value < 0n ? -value : value;
  const fraction = (magnitude % MICROS_PER_UNIT).toString().padStart(6, "0").replace(/0+$/, "");
  return `${value < 0n ? "-" : ""}${magnitude / MICROS_PER_UNIT}${fraction ? `.${fraction}` : ""}`;
}

/** Micro-units in words: 1_500_000 credits → "1.5 credits". */
export function formatAmount(micros: bigint, unit: Unit): string {
  return `${formatMicros(micros)} ${UNIT_NAMES[unit]}`;
}
