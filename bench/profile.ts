/**
 * CPU and allocation profiles of the service processes over one measured
 * workload (`npm run bench -- --profile DIR`). Each service is started with
 * `--inspect=127.0.0.1:0`; the bench attaches to the inspector it announces,
 * starts V8's sampling profilers when the workload starts and stops them when
 * the workload ends, so seeding and warm-up are not in the profile. Each
 * profile is written as `<workload>-<service>-<replica>.cpuprofile` and
 * `.heapprofile` (Chrome DevTools and speedscope open them) and summarised by
 * `summarise` and `summariseAllocations`. The allocation profile keeps the
 * objects the collector has freed too: it shows what a request allocates,
 * not what is still alive at the end (with BENCH_PROFILE_PROMOTED=true, only
 * what lived long enough to be promoted to the old space).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface AllocationNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocationNode[];
}
export interface AllocationProfile {
  head: AllocationNode;
}
export interface Profiles {
  cpu: CpuProfile;
  allocation: AllocationProfile;
}
const promotedOnly = process.env.BENCH_PROFILE_PROMOTED === "true";
/** One sample per this many bytes allocated, on average (V8's default is 32 KiB; finer costs more). */
const ALLOCATION_SAMPLING_BYTES = 16 * 1024;

/** One process's inspector session (Chrome DevTools protocol over its WebSocket). */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id!);
      if (message.error) waiting.reject(new Error(message.error.message));
      else waiting.resolve(message.result);
    });
  }

  static connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(new Inspector(socket)), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot attach to the inspector at ${url}`)), { once: true });
    });
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject }));
  }

  close(): void {
    this.socket.close();
  }
}

const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;

/** The service processes' inspectors, as they announce them on stderr, and profiling over a window. */
export class ServiceProfiler {
  private readonly urls = new Map<string, string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** NODE_OPTIONS for the services: an inspector on a free loopback port. */
  static readonly nodeOptions = "--inspect=127.0.0.1:0";

  /**
   * Feed every stderr line of a service here; returns true when the line was
   * the inspector's (not worth printing). Replicas of a service start one
   * after the other, so the n-th announcement of a service is its n-th process.
   */
  onLine(name: string, line: string): boolean {
    const match = INSPECTOR_LINE.exec(line);
    if (match) {
      const replica = [...this.urls.keys()].filter((key) => key.startsWith(`${name}-`)).length;
      this.urls.set(`${name}-${replica}`, match[1]!);
    }
    return match !== null || /^(For help, see: https:\/\/nodejs\.org\/|Debugger attached\.|Debugger ending on |Waiting for the debugger to disconnect)/.test(line);
  }

  /** Starts the profiler in every service; the returned function stops them, writes the profiles and returns them by service. */
  async start(label: string): Promise<() => Promise<Map<string, Profiles>>> {
    const sessions = await Promise.all(
      [...this.urls].map(async ([process, url]) => {
        const inspector = await Inspector.connect(url);
        await inspector.send("Profiler.enable");
        await inspector.send("Profiler.setSamplingInterval", { interval: 1000 });
        await inspector.send("HeapProfiler.enable");
        await inspector.send("HeapProfiler.startSampling", {
          samplingInterval: ALLOCATION_SAMPLING_BYTES,
          includeObjectsCollectedByMajorGC: true,
          // BENCH_PROFILE_PROMOTED=true: only objects that outlived the young generation (promoted to the old space), what makes major collections.
          includeObjectsCollectedByMinorGC: !promotedOnly,
        });
        await inspector.send("Profiler.start");
        return { process, inspector };
      }),
    );
    return async () => {
      const profiles = new Map<string, Profiles>();
      for (const { process, inspector } of sessions) {
        const { profile: cpu } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
        const { profile: allocation } = await inspector.send<{ profile: AllocationProfile }>("HeapProfiler.stopSampling");
        inspector.close();
        writeFileSync(join(this.dir, `${label}-${process}.cpuprofile`), JSON.stringify(cpu));
        writeFileSync(join(this.dir, `${label}-${process}.heapprofile`), JSON.stringify(allocation));
        profiles.set(process, { cpu, allocation });
      }
      return profiles;
    };
  }
}

/**
 * Where a sample's time goes: the first frame from the leaf up that belongs
 * to one of these (so Node's own internals and native code count for the
 * package that called them: a socket write under `pg` is the driver's).
 */
const CATEGORIES: [category: string, test: (url: string, fn: string) => boolean][] = [
  ["validation", (url) => /grpc-kit\/src\/(validation|request-rules)\.ts/.test(url)],
  ["auth guard", (url) => /grpc-kit\/src\/(guard|credentials|access)\.ts|node_modules\/jose\//.test(url)],
  ["rate limit", (url) => /grpc-kit\/src\/rate-limit\.ts/.test(url)],
  ["metrics", (url) => /grpc-kit\/src\/rpc-metrics\.ts|@opentelemetry\/sdk-metrics|telemetry\/src\/metrics\.ts|\/src\/metrics\.ts$/.test(url)],
  ["telemetry spans", (url) => /@opentelemetry\/|import-in-the-middle|require-in-the-middle|telemetry\/src\//.test(url)],
  ["protobuf", (url) => /packages\/proto\/|@bufbuild\/protobuf|protobufjs|long\/|\/gen\//.test(url)],
  ["gRPC", (url) => /@grpc\/grpc-js|grpc-kit\/src\/(server|handlers|client|errors)\.ts/.test(url)],
  ["driver (pg)", (url) => /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-array|pg-connection-string)\//.test(url)],
  ["ORM / query builder", (url) => /@mikro-orm|kysely|packages\/db\//.test(url)],
  ["ledger", (url) => /services\/ledger\/src\//.test(url)],
  ["other services", (url) => /services\/[a-z]+\/src\//.test(url)],
  ["tsx loader", (url) => /node_modules\/tsx\/|esbuild/.test(url)],
];
const categoryOfFrame = (url: string, functionName: string): string | undefined => CATEGORIES.find(([, test]) => test(url, functionName))?.[0];
const IDLE = "idle";
const PROGRAM = "program";
const VM_FRAMES = new Map([
  ["(garbage collector)", "GC"],
  ["(idle)", IDLE],
  ["(program)", PROGRAM],
  ["(root)", PROGRAM],
]);

export interface ProfileSummary {
  /** Samples with a JavaScript stack or in the garbage collector. */
  attributedMs: number;
  /**
   * V8's `(program)` samples: no JavaScript stack (native work outside any
   * JS frame, and, on a saturated machine, samples that could not be taken
   * in time). Even an idle service shows some, so it is reported apart.
   */
  programMs: number;
  /** Attributed time by category: milliseconds, share of attributed time, and milliseconds per 1,000 operations of the workload. */
  byCategory: Record<string, { ms: number; percent: number; msPerKiloOp: number }>;
}

/** Attributes a profile's samples to the categories above; idle and `(program)` time are left out of the attributed total. */
export function summarise(profile: CpuProfile, operations: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const categoryOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = categoryOf.get(id);
    if (known) return known;
    let category: string | undefined;
    for (let at: number | undefined = id; at !== undefined && !category; at = parent.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      category = VM_FRAMES.get(functionName) ?? categoryOfFrame(url, functionName);
    }
    category ??= "Node internals, unattributed";
    categoryOf.set(id, category);
    return category;
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const category = classify(id);
    totals.set(category, (totals.get(category) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  const programMs = totals.get(PROGRAM) ?? 0;
  totals.delete(IDLE);
  totals.delete(PROGRAM);
  const attributedMs = [...totals.values()].reduce((a, b) => a + b, 0);
  const kilo = Math.max(operations, 1) / 1000;
  const byCategory = Object.fromEntries(
    [...totals]
      .sort(([, a], [, b]) => b - a)
      .map(([category, ms]) => [
        category,
        { ms: Math.round(ms), percent: Math.round((1000 * ms) / Math.max(attributedMs, 1)) / 10, msPerKiloOp: Math.round((10 * ms) / kilo) / 10 },
      ]),
  );
  return { attributedMs: Math.round(attributedMs), programMs: Math.round(programMs), byCategory };
}

export interface AllocationSummary {
  /** Bytes allocated per operation of the workload, freed since or not. */
  bytesPerOp: number;
  /** By category (as CPU time is), each allocation counted for the first frame from the allocating one up that has one. */
  byCategory: Record<string, { percent: number; bytesPerOp: number }>;
  /** The functions that allocate the most themselves (`name file:line`), bytes per operation. */
  topFunctions: [frame: string, bytesPerOp: number][];
}

/** Where the bytes a workload allocated were allocated, per operation. */
export function summariseAllocations(profile: AllocationProfile, operations: number, top = 15): AllocationSummary {
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const visit = (node: AllocationNode, inherited: string | undefined): void => {
    const { url, functionName, lineNumber } = node.callFrame;
    const category = categoryOfFrame(url, functionName) ?? inherited;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const key = category ?? "Node internals, unattributed";
      byCategory.set(key, (byCategory.get(key) ?? 0) + node.selfSize);
      const frame = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules|services|packages)\//, "$1/")}:${lineNumber + 1}`;
      byFunction.set(frame, (byFunction.get(frame) ?? 0) + node.selfSize);
    }
    for (const child of node.children) visit(child, category);
  };
  visit(profile.head, undefined);
  const ops = Math.max(operations, 1);
  return {
    bytesPerOp: Math.round(total / ops),
    byCategory: Object.fromEntries(
      [...byCategory].sort(([, a], [, b]) => b - a).map(([category, bytes]) => [category, { percent: Math.round((1000 * bytes) / Math.max(total, 1)) / 10, bytesPerOp: Math.round(bytes / ops) }]),
    ),
    topFunctions: [...byFunction].sort(([, a], [, b]) => b - a).slice(0, top).map(([frame, bytes]) => [frame, Math.round(bytes / ops)]),
  };
}
