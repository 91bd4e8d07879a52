import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; 0 if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Every running PostgreSQL server process (postmaster and backends). */
export function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (comm === "postgres" || comm === "postmaster") pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** CPU seconds used by a set of processes between two samples. */
export class CpuMeter {
  private readonly before = new Map<number, number>();

  constructor(private readonly pids: () => number[]) {
    for (const pid of pids()) this.before.set(pid, cpuSeconds(pid));
  }

  /** A process that ended in between counts nothing (its last reading is gone with it). */
  seconds(): number {
    let total = 0;
    for (const pid of this.pids()) total += Math.max(0, cpuSeconds(pid) - (this.before.get(pid) ?? 0));
    return total;
  }
}

/** Resident memory of a process, in MiB. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
