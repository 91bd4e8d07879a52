import type { WorkRow } from "../api-types";
import { toMicros } from "../money";

/**
 * What a metered deployment (`/api/work?kind=deployment`) runs on, read from
 * its `usage` (protobuf JSON: `gpuTime`, `cpuTime` or `hardwareProfileTime`;
 * int64 counts may arrive as strings, and snake_case names are accepted too).
 */
export type DeploymentHardware =
  | { kind: "gpu"; gpuType: string; replicas: number; seconds: number }
  | { kind: "cpu"; cpuType: string; cores: number; seconds: number }
  | { kind: "profile"; profile: string; seconds: number };

type Obj = Record<string, unknown>;

const asObject = (value: unknown): Obj | null => {
  if (typeof value === "string") {
    try {
      return asObject(JSON.parse(value));
    } catch {
      return null;
    }
  }
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : null;
};

const num = (value: unknown): number => {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
};

const str = (value: unknown): string => (typeof value === "string" ? value : "");

const field = (o: Obj, camel: string, snake: string): unknown => o[camel] ?? o[snake];

export function deploymentHardware(usage: unknown): DeploymentHardware | null {
  const u = asObject(usage);
  if (!u) return null;
  const gpu = asObject(field(u, "gpuTime", "gpu_time"));
  if (gpu) return { kind: "gpu", gpuType: str(field(gpu, "gpuType", "gpu_type")), replicas: num(gpu.replicas), seconds: num(gpu.seconds) };
  const cpu = asObject(field(u, "cpuTime", "cpu_time"));
  if (cpu) return { kind: "cpu", cpuType: str(field(cpu, "cpuType", "cpu_type")), cores: num(cpu.cores), seconds: num(cpu.seconds) };
  const profile = asObject(field(u, "hardwareProfileTime", "hardware_profile_time"));
  if (profile) return { kind: "profile", profile: str(profile.profile), seconds: num(profile.seconds) };
  return null;
}

/** The rows whose usage is of one hardware kind. */
export function deploymentsOfKind(rows: readonly WorkRow[], kind: DeploymentHardware["kind"]): WorkRow[] {
  return rows.filter((r) => deploymentHardware(r.usage)?.kind === kind);
}

/** Replicas of a deployment: the row's, else the GPU usage's, else 1. */
export function deploymentReplicas(row: WorkRow): number {
  if (row.replicas != null && Number.isFinite(Number(row.replicas))) return Number(row.replicas);
  const hw = deploymentHardware(row.usage);
  return hw?.kind === "gpu" && hw.replicas > 0 ? hw.replicas : 1;
}

/** CPUs of a CPU deployment: cores × replicas ("—" for other kinds). */
export function cpuCount(row: WorkRow): string {
  const hw = deploymentHardware(row.usage);
  if (hw?.kind !== "cpu") return "—";
  return (hw.cores * deploymentReplicas(row)).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A deployment's state as the seed names it. */
export function deploymentStatus(state: string): string {
  if (state === "running") return "Deployed";
  if (state === "undeployed") return "Undeployed";
  if (state === "stopped") return "Stopped";
  return state ? state.charAt(0).toUpperCase() + state.slice(1) : "—";
}

/** Sum of the rows' charged micro-credits (BigInt). */
export function totalChargedMicros(rows: readonly WorkRow[]): bigint {
  return rows.reduce((sum, r) => sum + toMicros(r.charged_micros), 0n);
}

/** Sum of the rows' active seconds. */
export function totalActiveSeconds(rows: readonly WorkRow[]): number {
  return rows.reduce((sum, r) => sum + Math.max(0, num(r.active_seconds)), 0);
}

/** A hosting profile's size, from a rate table's `hardwareProfileHour` rates (protobuf JSON). */
export interface HostingProfile {
  vcpus: number;
  memoryMib: number;
}

export function hostingProfiles(rates: readonly Record<string, unknown>[]): Map<string, HostingProfile> {
  const profiles = new Map<string, HostingProfile>();
  for (const rate of rates) {
    const hour = asObject(field(rate, "hardwareProfileHour", "hardware_profile_hour"));
    if (hour) profiles.set(str(hour.profile), { vcpus: num(hour.vcpus), memoryMib: num(field(hour, "memoryMib", "memory_mib")) });
  }
  return profiles;
}

/** "2 vCPUs · 4 GiB" (memory in GiB when it divides evenly, else MiB). */
export function formatHostingProfile(profile: HostingProfile): string {
  const memory = profile.memoryMib % 1024 === 0 ? `${profile.memoryMib / 1024} GiB` : `${profile.memoryMib.toLocaleString("en-US")} MiB`;
  return `${profile.vcpus} vCPU${profile.vcpus === 1 ? "" : "s"} · ${memory}`;
}
