import { describe, expect, it } from "vitest";
import type { WorkRow } from "../api-types";
import { formatHoursMinutes } from "../duration";
import { cpuCount, deploymentHardware, deploymentReplicas, deploymentStatus, deploymentsOfKind, formatHostingProfile, hostingProfiles, totalActiveSeconds, totalChargedMicros } from "./deployment-usage";

const row = (over: Partial<WorkRow>): WorkRow => ({
  id: "a1/d1",
  work_id: "d1",
  kind: "deployment",
  account_id: "a1",
  state: "running",
  replicas: null,
  usage: {},
  attribution: {} as WorkRow["attribution"],
  charged_until: null,
  active_seconds: 0,
  charged_micros: "0",
  stop_reason: "",
  created_at: null,
  ended_at: null,
  ...over,
});

describe("deploymentHardware", () => {
  it("reads the three usage kinds, with int64 strings and snake_case", () => {
    expect(deploymentHardware({ gpuTime: { gpuType: "A100", replicas: 2, seconds: "60" } })).toEqual({ kind: "gpu", gpuType: "A100", replicas: 2, seconds: 60 });
    expect(deploymentHardware({ cpu_time: { cpu_type: "x86", cores: "4", seconds: 5 } })).toEqual({ kind: "cpu", cpuType: "x86", cores: 4, seconds: 5 });
    expect(deploymentHardware('{"hardwareProfileTime":{"profile":"small","seconds":"10"}}')).toEqual({ kind: "profile", profile: "small", seconds: 10 });
    expect(deploymentHardware({ toolRun: {} })).toBeNull();
    expect(deploymentHardware(null)).toBeNull();
  });
});

describe("deployment rows", () => {
  const gpu = row({ id: "g", usage: { gpuTime: { gpuType: "A100", replicas: 3 } } });
  const cpu = row({ id: "c", replicas: 2, usage: { cpuTime: { cpuType: "x86", cores: 1.5 } }, charged_micros: "2500000", active_seconds: "90" });
  const script = row({ id: "s", usage: { hardwareProfileTime: { profile: "small" } }, charged_micros: "500000", active_seconds: 30 });

  it("splits by kind and counts CPUs as cores × replicas", () => {
    expect(deploymentsOfKind([gpu, cpu, script], "cpu").map((r) => r.id)).toEqual(["c"]);
    expect(cpuCount(cpu)).toBe("3");
    expect(cpuCount(gpu)).toBe("—");
    expect(deploymentReplicas(gpu)).toBe(3);
    expect(deploymentReplicas(cpu)).toBe(2);
    expect(deploymentReplicas(script)).toBe(1);
  });

  it("totals credits and time", () => {
    expect(totalChargedMicros([cpu, script])).toBe(3_000_000n);
    expect(totalActiveSeconds([cpu, script])).toBe(120);
  });

  it("names states as the seed does", () => {
    expect(deploymentStatus("running")).toBe("Deployed");
    expect(deploymentStatus("undeployed")).toBe("Undeployed");
    expect(deploymentStatus("stopped")).toBe("Stopped");
    expect(deploymentStatus("paused")).toBe("Paused");
  });
});

describe("formatHoursMinutes", () => {
  it("shows hours and minutes", () => {
    expect(formatHoursMinutes(0)).toBe("0h 0m");
    expect(formatHoursMinutes("3725")).toBe("1h 2m");
    expect(formatHoursMinutes(-1)).toBe("—");
  });
});

describe("hosting profiles", () => {
  it("reads each profile's vCPUs and memory from a rate table's hardware-profile rates", () => {
    const profiles = hostingProfiles([
      { bucket: "BUCKET_COMPUTE", unit: "UNIT_CREDITS", hardwareProfileHour: { profile: "script-medium", vcpus: 2, memoryMib: 4096, microsPerHour: "500000" } },
      { bucket: "BUCKET_AI", unit: "UNIT_CREDITS", modelReply: { model: "gpt-4o", microsPerReply: "5000000" } },
      { hardware_profile_hour: { profile: "odd", vcpus: "1", memory_mib: "1536" } },
    ]);
    expect([...profiles.keys()]).toEqual(["script-medium", "odd"]);
    expect(formatHostingProfile(profiles.get("script-medium")!)).toBe("2 vCPUs · 4 GiB");
    expect(formatHostingProfile(profiles.get("odd")!)).toBe("1 vCPU · 1,536 MiB");
  });
});
