import { InvalidArgumentError } from "@tollgate/errors";
import type { Usage } from "@tollgate/rating";

/** The attribution dimensions usage can be split by (keys of the stored attribution, plus the bucket). */
export const USAGE_DIMENSIONS = [
  "bucket", "surface", "model", "agent_id", "tool", "block", "deployment_id", "user_id",
  "workspace_id", "workspace_group_id", "conversation_id", "task_id",
  // The kind of work (guardrail, custom script…), recorded on the holds and metered work that name one.
  "work_kind",
] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export function usageDimension(value: string, field: string): UsageDimension {
  if (!(USAGE_DIMENSIONS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(field, `must be one of ${USAGE_DIMENSIONS.join(", ")}`);
  }
  return value as UsageDimension;
}

export type UsageWindow = "day_hourly" | "week_daily" | "month_weekly";

/** The console's chart windows (seed 002): 24 h by hour, 7 d by day, 30 d by week. */
export function usageWindow(window: UsageWindow, now: Date): { since: Date; bucket: "hour" | "day" | "week" } {
  const hours = { day_hourly: 24, week_daily: 24 * 7, month_weekly: 24 * 30 }[window];
  const bucket = ({ day_hourly: "hour", week_daily: "day", month_weekly: "week" } as const)[window];
  return { since: new Date(now.getTime() - hours * 3_600_000), bucket };
}

/** Share of a total in basis points, rounded half-up, in integers. */
export function shareBasisPoints(amount: bigint, total: bigint): number {
  if (total <= 0n) return 0;
  return Number((amount * 20_000n + total) / (total * 2n));
}

/**
 * The attribution an entry or hold is recorded with: the caller's, with the
 * model, tool or block the usage itself names filled in where the caller left
 * it empty (so usage by model or tool is complete without repeating it).
 */
export function attributionOf(usage: Usage, attribution: Record<string, string>): Record<string, string> {
  const [key, value] =
    usage.kind === "model_reply" || usage.kind === "model_tokens" ? ["model", usage.model]
    : usage.kind === "tool_run" ? ["tool", usage.tool]
    : usage.kind === "block_run" ? ["block", usage.block]
    : [];
  return key && value && !attribution[key] ? { ...attribution, [key]: value } : attribution;
}

/** Usage of a kind of work is attributed to it (usage by kind: the `work_kind` dimension). */
export function withWorkKind(attribution: Record<string, string>, workKind: string | undefined): Record<string, string> {
  return workKind ? { ...attribution, work_kind: workKind } : attribution;
}
