/**
 * Eligibility: which runs an account may start and which buckets they use.
 * The rules are data on the plan (an ordered table); this engine finds the
 * first row that matches, and applies the defaults when the plan has no rules:
 *
 * - self-hosted installations are unmetered (allowed, recorded, charged nothing),
 *   whatever the plan says;
 * - own-key inference (BYOK, BYOLLM, a custom endpoint) draws no credits for the
 *   model call: the `ai` bucket is left out, every other bucket is metered;
 * - an account that tracks bring-your-own-model spend (`byom_usd`) still meters
 *   the model call of own-key inference, in USD against its spend cap, also
 *   when a rule leaves the `ai` bucket out.
 *
 * A plan overrides the defaults with rules: the first matching rule decides
 * (e.g. a rule for BYOK with `buckets: [BUCKET_AI, …]` charges own-key model
 * calls in credits), and a plan with rules allows only what a rule allows.
 * A plan that names the buckets it meters (`metered_buckets`) charges only
 * those, whatever a rule or the defaults say: work in another bucket is
 * recorded at zero (a BYOM account's own-key model calls still go to its
 * spend cap).
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

const ALL_BUCKETS: Bucket[] = ["ai", "compute", "platform", "tool_runs"];

/** The customer pays for the model call: their own key, their own cloud's models, or their own endpoint. */
export const isOwnInference = (context: RunContext) => context.inferenceSource !== "managed";

/** What a plan without eligibility rules decides. */
function defaultDecision(context: RunContext): EligibilityDecision {
  return isOwnInference(context)
    ? { allowed: true, reason: "own-key inference: the model call is billed by the customer's provider, not in credits", buckets: ALL_BUCKETS.filter((b) => b !== "ai"), metered: true }
    : { allowed: true, reason: "the plan has no eligibility rules", buckets: ALL_BUCKETS, metered: true };
}

/** A BYOM account's own-key model calls go to its USD spend cap, whatever the credit rules leave out. */
function withSpendTracking(decision: EligibilityDecision, billingMode: "credits" | "byom_usd" | undefined, context: RunContext): EligibilityDecision {
  if (!decision.allowed || billingMode !== "byom_usd" || !isOwnInference(context)) return decision;
  if (decision.metered && decision.buckets.includes("ai")) return decision;
  return { ...decision, buckets: decision.metered ? [...decision.buckets, "ai"] : ["ai"], metered: true };
}

export function decideEligibility(
  rules: EligibilityRule[],
  account: { seats: number; deploymentMode: "cloud" | "self_hosted"; billingMode?: "credits" | "byom_usd"; meteredBuckets?: readonly Bucket[] },
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
  if (!rule && rules.length > 0) {
    return { allowed: false, reason: "no eligibility rule of the plan allows this run", buckets: [], metered: false };
  }
  const decision = rule ? { allowed: rule.allowed, reason: rule.reason, buckets: rule.buckets, metered: rule.metered } : defaultDecision(context);
  const metered = account.meteredBuckets ?? [];
  const narrowed = metered.length > 0 ? { ...decision, buckets: decision.buckets.filter((b) => metered.includes(b)) } : decision;
  return withSpendTracking(narrowed, account.billingMode, context);
}
