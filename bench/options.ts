import { parseArgs } from "node:util";

export const WORKLOADS = ["W-uniform", "W-hot", "W-stream", "W-meter", "W-replay", "W-edge"] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  /** Smaller counts, same workloads. */
  quick: boolean;
  /** Run only these workloads, without the baselines and the open loop (undefined: the whole bench). */
  only: ReadonlySet<Workload> | undefined;
  /** Ledger and notifications processes, each on the one database; callers' channels spread across the ledger replicas. */
  replicas: number;
  /** With `--only`: also the open loop at half the W-uniform maximum, and the no-op server's at that rate (needs W-uniform). */
  openLoop: boolean;
  /** Where to write CPU profiles of the service processes, one per measured workload. */
  profileDir: string | undefined;
  /** Where the results go, from the project's root (default bench/results/latest.json). */
  resultsFile: string;
}

const USAGE = "usage: npm run bench -- [--quick] [--only W-uniform,W-hot] [--open-loop] [--replicas N] [--profile DIR] [--results FILE]";

/** The bench's command line (see bench/README.md). */
export function parseOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      replicas: { type: "string", default: "1" },
      profile: { type: "string" },
      "open-loop": { type: "boolean", default: false },
      results: { type: "string", default: "bench/results/latest.json" },
    },
    strict: true,
  });
  const only = values.only?.split(",").map((name) => name.trim());
  const unknown = only?.filter((name) => !(WORKLOADS as readonly string[]).includes(name));
  if (unknown?.length) throw new Error(`unknown workload ${unknown.join(", ")} (known: ${WORKLOADS.join(", ")}); ${USAGE}`);
  if (values["open-loop"] && only && !only.includes("W-uniform")) throw new Error(`--open-loop runs at half the W-uniform maximum: add W-uniform to --only; ${USAGE}`);
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 8) throw new Error(`--replicas must be an integer from 1 to 8; ${USAGE}`);
  return {
    quick: values.quick,
    only: only ? new Set(only as Workload[]) : undefined,
    openLoop: values["open-loop"] || !only,
    replicas,
    profileDir: values.profile,
    resultsFile: values.results,
  };
}
