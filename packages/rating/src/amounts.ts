import type { Unit } from "./types.js";

const UNIT_NAMES: Record<Unit, string> = { credits: "credits", tool_runs: "tool runs", usd: "USD" };

/** Micro-units in words, without trailing zeros: 1_500_000 credits → "1.5 credits". */
export function formatAmount(micros: bigint, unit: Unit): string {
  const sign = micros < 0n ? "-" : "";
  const abs = micros < 0n ? -micros : micros;
  const fraction = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${sign}${abs / 1_000_000n}${fraction ? `.${fraction}` : ""} ${UNIT_NAMES[unit]}`;
}
