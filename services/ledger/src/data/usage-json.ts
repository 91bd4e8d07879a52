import type { Usage } from "@tollgate/rating";

/** The fields of a usage that name something (never quantities), kept as strings when read back. */
const NAMES = new Set(["kind", "model", "block", "gpuType", "cpuType", "profile", "sizeClass", "hardware", "tool"]);

/** A usage as stored in a jsonb column: bigint quantities as decimal strings. */
export function usageToJson(usage: Usage): unknown {
  return JSON.parse(JSON.stringify(usage, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** A stored usage back, its quantities as bigint. */
export function usageFromJson(json: unknown): Usage {
  const raw = json as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "string" && /^-?\d+$/.test(v) && !NAMES.has(k) ? BigInt(v) : v])) as Usage;
}
