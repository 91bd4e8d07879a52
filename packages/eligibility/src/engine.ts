/**
 * Eligibility: which runs an account may start and which buckets they use.
 * The rules are data on the plan (an ordered table); this engine only finds
 * the first row that matches.
 */
export type RunLocation = "local" | "cloud";
export type InferenceSource = "managed" | "byok" | "byollm" | "custom_endpoint";
export type ComputeSource = "hosted" | "self_hosted";
export type Bucket = "ai" | "compute" | "platform" | "tool_runs";

export interface RunContext {
  runLocation: RunLocation;
  inferenceSource: InferenceSource;
  computeSource: ComputeSource;
}

export interface EligibilityRule {
  runLocations: RunLocation[];
  inferenceSources: InferenceSource[];
  computeSources: ComputeSource[];
  /** Matches organisations with at most this many seats; 0 matches any size. */
  maxSeats: number;
  allowed: boolean;
  reason: string;
  buckets: Bucket[];
  metered: boolean;
}

export interface EligibilityDecision {
  allowed: boolean;
  reason: string;
  buckets: Bucket[];
  metered: boolean;
}

const matchesAny = <T>(values: T[], value: T) => values.length === 0 || values.includes(value);

export function decideEligibility(
  rules: EligibilityRule[],
  account: { seats: number; deploymentMode: "cloud" | "self_hosted" },
  context: RunContext,
): EligibilityDecision {
  if (account.deploymentMode === "self_hosted") {
    // Self-hosted installations are unmetered: allowed, recorded, charged nothing.
    return { allowed: true, reason: "self-hosted deployments are unmetered", buckets: [], metered: false };
  }
  const rule = rules.find(
    (r) =>
      matchesAny(r.runLocations, context.runLocation) &&
      matchesAny(r.inferenceSources, context.inferenceSource) &&
      matchesAny(r.computeSources, context.computeSource) &&
      (r.maxSeats === 0 || account.seats <= r.maxSeats),
  );
  if (!rule) {
    // A plan without eligibility rules meters everything it is asked to; one
    // with rules allows only what a rule allows.
    return rules.length === 0
      ? { allowed: true, reason: "the plan has no eligibility rules", buckets: ["ai", "compute", "platform", "tool_runs"], metered: true }
      : { allowed: false, reason: "no eligibility rule of the plan allows this run", buckets: [], metered: false };
  }
  return { allowed: rule.allowed, reason: rule.reason, buckets: rule.buckets, metered: rule.metered };
}
