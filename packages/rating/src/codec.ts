/**
 * Mapping between the wire (ts-proto) shapes and the pricing domain types,
 * shared by the pricing service and the ledger so both read usage and rates
 * the same way.
 */
import { InvalidArgumentError } from "@tollgate/errors";
import { commonV1, pricingV1 } from "@tollgate/proto";
import type { Bucket, LineItem, Rate, RateTable, Unit, Usage } from "./types.js";

const UNITS: [commonV1.Unit, Unit][] = [
  [commonV1.Unit.UNIT_CREDITS, "credits"],
  [commonV1.Unit.UNIT_TOOL_RUNS, "tool_runs"],
  [commonV1.Unit.UNIT_USD, "usd"],
];
const BUCKETS: [commonV1.Bucket, Bucket][] = [
  [commonV1.Bucket.BUCKET_AI, "ai"],
  [commonV1.Bucket.BUCKET_COMPUTE, "compute"],
  [commonV1.Bucket.BUCKET_PLATFORM, "platform"],
  [commonV1.Bucket.BUCKET_TOOL_RUNS, "tool_runs"],
];

export function unitFromProto(unit: commonV1.Unit, field: string): Unit {
  const found = UNITS.find(([wire]) => wire === unit);
  if (!found) throw new InvalidArgumentError(field, "unit is required");
  return found[1];
}
export function unitToProto(unit: Unit): commonV1.Unit {
  return UNITS.find(([, domain]) => domain === unit)![0];
}
export function bucketFromProto(bucket: commonV1.Bucket, field: string): Bucket {
  const found = BUCKETS.find(([wire]) => wire === bucket);
  if (!found) throw new InvalidArgumentError(field, "bucket is required");
  return found[1];
}
export function bucketToProto(bucket: Bucket): commonV1.Bucket {
  return BUCKETS.find(([, domain]) => domain === bucket)![0];
}

/** Parses an int64 carried as a string; `field` names it in the error. */
export function int64(value: string | undefined, field: string): bigint {
  if (value === undefined || value === "") return 0n;
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(field, `not an integer: ${value}`);
  return BigInt(value);
}

function required(value: string, field: string): string {
  if (!value) throw new InvalidArgumentError(field, "is required");
  return value;
}

export function usageFromProto(usage: pricingV1.Usage | undefined, field: string): Usage {
  const kind = usage?.kind;
  if (!kind) throw new InvalidArgumentError(field, "a usage kind is required");
  const f = (name: string) => `${field}.${name}`;
  switch (kind.$case) {
    case "modelReply":
      return { kind: "model_reply", model: required(kind.modelReply.model, f("model_reply.model")), replies: int64(kind.modelReply.replies, f("model_reply.replies")) };
    case "modelTokens": {
      const u = kind.modelTokens;
      return {
        kind: "model_tokens",
        model: required(u.model, f("model_tokens.model")),
        inputTokens: int64(u.inputTokens, f("model_tokens.input_tokens")),
        outputTokens: int64(u.outputTokens, f("model_tokens.output_tokens")),
        cacheReadTokens: int64(u.cacheReadTokens, f("model_tokens.cache_read_tokens")),
        cacheWriteTokens: int64(u.cacheWriteTokens, f("model_tokens.cache_write_tokens")),
      };
    }
    case "blockRun":
      return { kind: "block_run", block: required(kind.blockRun.block, f("block_run.block")), configuration: kind.blockRun.configuration, runs: int64(kind.blockRun.runs, f("block_run.runs")) };
    case "gpuTime":
      return { kind: "gpu_time", gpuType: required(kind.gpuTime.gpuType, f("gpu_time.gpu_type")), replicas: int64(kind.gpuTime.replicas, f("gpu_time.replicas")), seconds: int64(kind.gpuTime.seconds, f("gpu_time.seconds")) };
    case "cpuTime":
      return { kind: "cpu_time", cpuType: required(kind.cpuTime.cpuType, f("cpu_time.cpu_type")), cores: int64(kind.cpuTime.cores, f("cpu_time.cores")), seconds: int64(kind.cpuTime.seconds, f("cpu_time.seconds")) };
    case "hardwareProfileTime":
      return { kind: "hardware_profile_time", profile: required(kind.hardwareProfileTime.profile, f("hardware_profile_time.profile")), seconds: int64(kind.hardwareProfileTime.seconds, f("hardware_profile_time.seconds")) };
    case "fineTuning": {
      const u = kind.fineTuning;
      return {
        kind: "fine_tuning",
        trainingTokens: int64(u.trainingTokens, f("fine_tuning.training_tokens")),
        sizeClass: required(u.sizeClass, f("fine_tuning.size_class")),
        epochs: int64(u.epochs, f("fine_tuning.epochs")),
        hardware: required(u.hardware, f("fine_tuning.hardware")),
      };
    }
    case "activeTime":
      return { kind: "active_time", seconds: int64(kind.activeTime.seconds, f("active_time.seconds")) };
    case "toolRun":
      return { kind: "tool_run", tool: kind.toolRun.tool, runs: int64(kind.toolRun.runs, f("tool_run.runs")) };
  }
}

export function rateFromProto(rate: pricingV1.Rate, field: string): Rate {
  const base = { bucket: bucketFromProto(rate.bucket, `${field}.bucket`), unit: unitFromProto(rate.unit, `${field}.unit`) };
  const kind = rate.kind;
  if (!kind) throw new InvalidArgumentError(field, "a rate kind is required");
  const f = (name: string) => `${field}.${name}`;
  switch (kind.$case) {
    case "modelReply":
      return { ...base, kind: "model_reply", model: required(kind.modelReply.model, f("model_reply.model")), microsPerReply: int64(kind.modelReply.microsPerReply, f("model_reply.micros_per_reply")) };
    case "modelToken": {
      const r = kind.modelToken;
      return {
        ...base,
        kind: "model_token",
        model: required(r.model, f("model_token.model")),
        inputMicrosPerMillion: int64(r.inputMicrosPerMillion, f("model_token.input_micros_per_million")),
        outputMicrosPerMillion: int64(r.outputMicrosPerMillion, f("model_token.output_micros_per_million")),
        cacheReadMicrosPerMillion: int64(r.cacheReadMicrosPerMillion, f("model_token.cache_read_micros_per_million")),
        cacheWriteMicrosPerMillion: int64(r.cacheWriteMicrosPerMillion, f("model_token.cache_write_micros_per_million")),
        inputUsdMicrosPerMillion: int64(r.inputUsdMicrosPerMillion, f("model_token.input_usd_micros_per_million")),
        outputUsdMicrosPerMillion: int64(r.outputUsdMicrosPerMillion, f("model_token.output_usd_micros_per_million")),
        cacheReadUsdMicrosPerMillion: int64(r.cacheReadUsdMicrosPerMillion, f("model_token.cache_read_usd_micros_per_million")),
        cacheWriteUsdMicrosPerMillion: int64(r.cacheWriteUsdMicrosPerMillion, f("model_token.cache_write_usd_micros_per_million")),
      };
    }
    case "block":
      return {
        ...base,
        kind: "block",
        block: required(kind.block.block, f("block.block")),
        microsPerRun: int64(kind.block.microsPerRun, f("block.micros_per_run")),
        configurationKey: kind.block.configurationKey,
        microsPerRunByValue: Object.fromEntries(
          Object.entries(kind.block.microsPerRunByValue).map(([key, value]) => [key, int64(value, f(`block.micros_per_run_by_value[${key}]`))]),
        ),
      };
    case "gpuHour":
      return { ...base, kind: "gpu_hour", gpuType: required(kind.gpuHour.gpuType, f("gpu_hour.gpu_type")), microsPerReplicaHour: int64(kind.gpuHour.microsPerReplicaHour, f("gpu_hour.micros_per_replica_hour")) };
    case "cpuCoreHour":
      return { ...base, kind: "cpu_core_hour", cpuType: required(kind.cpuCoreHour.cpuType, f("cpu_core_hour.cpu_type")), microsPerCoreHour: int64(kind.cpuCoreHour.microsPerCoreHour, f("cpu_core_hour.micros_per_core_hour")) };
    case "hardwareProfileHour":
      return {
        ...base,
        kind: "hardware_profile_hour",
        profile: required(kind.hardwareProfileHour.profile, f("hardware_profile_hour.profile")),
        vcpus: kind.hardwareProfileHour.vcpus,
        memoryMib: kind.hardwareProfileHour.memoryMib,
        microsPerHour: int64(kind.hardwareProfileHour.microsPerHour, f("hardware_profile_hour.micros_per_hour")),
      };
    case "fineTuning":
      return {
        ...base,
        kind: "fine_tuning",
        sizeClass: required(kind.fineTuning.sizeClass, f("fine_tuning.size_class")),
        hardware: required(kind.fineTuning.hardware, f("fine_tuning.hardware")),
        microsPerMillionTokensPerEpoch: int64(kind.fineTuning.microsPerMillionTrainingTokensPerEpoch, f("fine_tuning.micros_per_million_training_tokens_per_epoch")),
      };
    case "activeMinute":
      return { ...base, kind: "active_minute", microsPerMinute: int64(kind.activeMinute.microsPerMinute, f("active_minute.micros_per_minute")) };
    case "toolRun":
      return { ...base, kind: "tool_run", tool: kind.toolRun.tool, microsPerRun: int64(kind.toolRun.microsPerRun, f("tool_run.micros_per_run")) };
  }
}

export function rateTableFromProto(table: pricingV1.RateTable): RateTable {
  return {
    tableId: table.tableId,
    version: BigInt(table.version),
    sequence: BigInt(table.sequence),
    effectiveFrom: table.effectiveFrom ?? new Date(0),
    rates: table.rates.map((rate, index) => rateFromProto(rate, `rates[${index}]`)),
  };
}

export function lineItemToProto(line: LineItem): pricingV1.LineItem {
  return {
    bucket: bucketToProto(line.bucket),
    unit: unitToProto(line.unit),
    description: line.description,
    quantity: line.quantity.toString(),
    rateMicros: line.rateMicros.toString(),
    ratePer: line.ratePer.toString(),
    amountMicros: line.amountMicros.toString(),
    rateTableVersion: line.rateTableVersion.toString(),
    rounding: line.rounding,
  };
}

export function rateToProto(rate: Rate): pricingV1.Rate {
  const base = { bucket: bucketToProto(rate.bucket), unit: unitToProto(rate.unit) };
  const s = (v: bigint) => v.toString();
  switch (rate.kind) {
    case "model_reply":
      return { ...base, kind: { $case: "modelReply", modelReply: { model: rate.model, microsPerReply: s(rate.microsPerReply) } } };
    case "model_token":
      return {
        ...base,
        kind: {
          $case: "modelToken",
          modelToken: {
            model: rate.model,
            inputMicrosPerMillion: s(rate.inputMicrosPerMillion),
            outputMicrosPerMillion: s(rate.outputMicrosPerMillion),
            cacheReadMicrosPerMillion: s(rate.cacheReadMicrosPerMillion),
            cacheWriteMicrosPerMillion: s(rate.cacheWriteMicrosPerMillion),
            inputUsdMicrosPerMillion: s(rate.inputUsdMicrosPerMillion),
            outputUsdMicrosPerMillion: s(rate.outputUsdMicrosPerMillion),
            cacheReadUsdMicrosPerMillion: s(rate.cacheReadUsdMicrosPerMillion ?? 0n),
            cacheWriteUsdMicrosPerMillion: s(rate.cacheWriteUsdMicrosPerMillion ?? 0n),
          },
        },
      };
    case "block":
      return {
        ...base,
        kind: {
          $case: "block",
          block: {
            block: rate.block,
            microsPerRun: s(rate.microsPerRun),
            configurationKey: rate.configurationKey,
            microsPerRunByValue: Object.fromEntries(Object.entries(rate.microsPerRunByValue).map(([k, v]) => [k, s(v)])),
          },
        },
      };
    case "gpu_hour":
      return { ...base, kind: { $case: "gpuHour", gpuHour: { gpuType: rate.gpuType, microsPerReplicaHour: s(rate.microsPerReplicaHour) } } };
    case "cpu_core_hour":
      return { ...base, kind: { $case: "cpuCoreHour", cpuCoreHour: { cpuType: rate.cpuType, microsPerCoreHour: s(rate.microsPerCoreHour) } } };
    case "hardware_profile_hour":
      return { ...base, kind: { $case: "hardwareProfileHour", hardwareProfileHour: { profile: rate.profile, vcpus: rate.vcpus, memoryMib: rate.memoryMib, microsPerHour: s(rate.microsPerHour) } } };
    case "fine_tuning":
      return {
        ...base,
        kind: { $case: "fineTuning", fineTuning: { sizeClass: rate.sizeClass, hardware: rate.hardware, microsPerMillionTrainingTokensPerEpoch: s(rate.microsPerMillionTokensPerEpoch) } },
      };
    case "active_minute":
      return { ...base, kind: { $case: "activeMinute", activeMinute: { microsPerMinute: s(rate.microsPerMinute) } } };
    case "tool_run":
      return { ...base, kind: { $case: "toolRun", toolRun: { tool: rate.tool, microsPerRun: s(rate.microsPerRun) } } };
  }
}
