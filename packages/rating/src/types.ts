/** Domain types of pricing: plain data, no proto or ORM types. Amounts are bigint micro-units. */
export type Unit = "credits" | "tool_runs" | "usd";
/** Every unit, in one list (a balance, a hold, a limit is in one of these). */
export const UNITS: readonly Unit[] = ["credits", "tool_runs", "usd"];
export type Bucket = "ai" | "compute" | "platform" | "tool_runs";

export type RateKind =
  | { kind: "model_reply"; model: string; microsPerReply: bigint }
  | {
      kind: "model_token";
      model: string;
      inputMicrosPerMillion: bigint;
      outputMicrosPerMillion: bigint;
      cacheReadMicrosPerMillion: bigint;
      cacheWriteMicrosPerMillion: bigint;
      /** Provider cost in micro-USD per million tokens, for BYOM spend caps (0 when unknown). */
      inputUsdMicrosPerMillion: bigint;
      outputUsdMicrosPerMillion: bigint;
      /** The same for cache reads and writes (0 or absent: they add nothing to the provider cost). */
      cacheReadUsdMicrosPerMillion?: bigint;
      cacheWriteUsdMicrosPerMillion?: bigint;
    }
  | { kind: "block"; block: string; microsPerRun: bigint; configurationKey: string; microsPerRunByValue: Record<string, bigint> }
  | { kind: "gpu_hour"; gpuType: string; microsPerReplicaHour: bigint }
  | { kind: "cpu_core_hour"; cpuType: string; microsPerCoreHour: bigint }
  | { kind: "hardware_profile_hour"; profile: string; vcpus: number; memoryMib: number; microsPerHour: bigint }
  | { kind: "fine_tuning"; sizeClass: string; hardware: string; microsPerMillionTokensPerEpoch: bigint }
  | { kind: "active_minute"; microsPerMinute: bigint }
  | { kind: "tool_run"; tool: string; microsPerRun: bigint };

export type Rate = { bucket: Bucket; unit: Unit } & RateKind;

export type Usage =
  | { kind: "model_reply"; model: string; replies: bigint }
  | { kind: "model_tokens"; model: string; inputTokens: bigint; outputTokens: bigint; cacheReadTokens: bigint; cacheWriteTokens: bigint }
  | { kind: "block_run"; block: string; configuration: Record<string, string>; runs: bigint }
  | { kind: "gpu_time"; gpuType: string; replicas: bigint; seconds: bigint }
  | { kind: "cpu_time"; cpuType: string; cores: bigint; seconds: bigint }
  | { kind: "hardware_profile_time"; profile: string; seconds: bigint }
  | { kind: "fine_tuning"; trainingTokens: bigint; sizeClass: string; epochs: bigint; hardware: string }
  | { kind: "active_time"; seconds: bigint }
  | { kind: "tool_run"; tool: string; runs: bigint };

export interface RateTable {
  tableId: string;
  /** Numbered per table, from 1. */
  version: bigint;
  /** Publication order across every table (what the ledger records on holds and entries). */
  sequence?: bigint;
  effectiveFrom: Date;
  rates: Rate[];
}

export interface LineItem {
  bucket: Bucket;
  unit: Unit;
  description: string;
  quantity: bigint;
  /** Micro-units per `ratePer` units of quantity. */
  rateMicros: bigint;
  ratePer: bigint;
  amountMicros: bigint;
  rateTableVersion: bigint;
  rounding: "half_up";
}
