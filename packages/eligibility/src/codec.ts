/** Eligibility rules and run contexts from the entitlements contract, shared by entitlements and the ledger. */
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import type { Bucket, ComputeSource, EligibilityRule, InferenceSource, RunContext, RunLocation } from "./engine.js";

const E = entitlementsV1;

const name = (protoName: string, prefix: string) => protoName.slice(prefix.length).toLowerCase();

export function runContextFromProto(context: entitlementsV1.RunContext | undefined): RunContext {
  const location = context?.runLocation ?? E.RunLocation.RUN_LOCATION_UNSPECIFIED;
  const inference = context?.inferenceSource ?? E.InferenceSource.INFERENCE_SOURCE_UNSPECIFIED;
  const compute = context?.computeSource ?? E.ComputeSource.COMPUTE_SOURCE_UNSPECIFIED;
  // Unset fields mean the common case: a cloud run on managed inference and hosted compute.
  return {
    runLocation: location ? (name(E.runLocationToJSON(location), "RUN_LOCATION_") as RunLocation) : "cloud",
    inferenceSource: inference ? (name(E.inferenceSourceToJSON(inference), "INFERENCE_SOURCE_") as InferenceSource) : "managed",
    computeSource: compute ? (name(E.computeSourceToJSON(compute), "COMPUTE_SOURCE_") as ComputeSource) : "hosted",
  };
}

export function eligibilityRulesFromProto(plan: entitlementsV1.Plan): EligibilityRule[] {
  return plan.eligibility.map((rule) => ({
    runLocations: rule.runLocations.map((v) => name(E.runLocationToJSON(v), "RUN_LOCATION_") as RunLocation),
    inferenceSources: rule.inferenceSources.map((v) => name(E.inferenceSourceToJSON(v), "INFERENCE_SOURCE_") as InferenceSource),
    computeSources: rule.computeSources.map((v) => name(E.computeSourceToJSON(v), "COMPUTE_SOURCE_") as ComputeSource),
    maxSeats: rule.maxSeats,
    allowed: rule.allowed,
    reason: rule.reason,
    buckets: rule.buckets.map((b) => name(commonV1.bucketToJSON(b), "BUCKET_") as Bucket),
    metered: rule.metered,
  }));
}

/** The buckets a plan meters (`metered_buckets`); empty: every bucket its rules (or the defaults) meter. */
export function meteredBucketsFromProto(plan: entitlementsV1.Plan): Bucket[] {
  return plan.meteredBuckets.filter((b) => b !== commonV1.Bucket.BUCKET_UNSPECIFIED).map((b) => name(commonV1.bucketToJSON(b), "BUCKET_") as Bucket);
}

export function bucketToProto(bucket: Bucket): commonV1.Bucket {
  return commonV1.bucketFromJSON(`BUCKET_${bucket.toUpperCase()}`);
}
