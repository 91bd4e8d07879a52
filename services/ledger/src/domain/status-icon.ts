export type StatusIcon = "green" | "yellow" | "red" | "warning";

/**
 * The status icon from the share of the allotment remaining (seed 001):
 * green above 75 %, yellow from 25 % to 75 %, red below 25 %, warning at 0.
 * Integer arithmetic: remaining × 100 is compared with allotted × percent.
 */
export function statusIcon(remainingMicros: bigint, allottedMicros: bigint): StatusIcon {
  if (allottedMicros <= 0n) return remainingMicros > 0n ? "green" : "warning";
  if (remainingMicros <= 0n) return "warning";
  const scaled = remainingMicros * 100n;
  if (scaled > allottedMicros * 75n) return "green";
  if (scaled >= allottedMicros * 25n) return "yellow";
  return "red";
}
