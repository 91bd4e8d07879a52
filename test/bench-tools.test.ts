import { expect, it } from "vitest";
import { Latencies } from "../bench/load.js";
import { parseOptions } from "../bench/options.js";
import { summarise, summariseAllocations, type AllocationProfile, type CpuProfile } from "../bench/profile.js";

it("reads the bench's options and refuses unknown workloads and replica counts out of range", () => {
  expect(parseOptions([])).toEqual({ quick: false, only: undefined, openLoop: true, replicas: 1, profileDir: undefined, resultsFile: "bench/results/latest.json" });
  expect(parseOptions(["--results", "/tmp/r.json"]).resultsFile).toBe("/tmp/r.json");
  expect(parseOptions(["--only", "W-uniform"]).openLoop).toBe(false);
  expect(parseOptions(["--only", "W-uniform", "--open-loop"]).openLoop).toBe(true);
  expect(() => parseOptions(["--only", "W-hot", "--open-loop"])).toThrow(/add W-uniform/);
  const options = parseOptions(["--quick", "--only", "W-uniform, W-hot", "--replicas", "2", "--profile", "/tmp/p"]);
  expect(options).toMatchObject({ quick: true, replicas: 2, profileDir: "/tmp/p" });
  expect([...options.only!]).toEqual(["W-uniform", "W-hot"]);
  expect([...parseOptions(["--only", "W-stream,W-meter"]).only!]).toEqual(["W-stream", "W-meter"]);
  expect(() => parseOptions(["--only", "W-nothing"])).toThrow(/unknown workload W-nothing/);
  expect(() => parseOptions(["--replicas", "0"])).toThrow(/--replicas/);
  expect(() => parseOptions(["--replicas", "1.5"])).toThrow(/--replicas/);
});

it("gives each CPU sample to the first category from the leaf up, and leaves idle and (program) time apart", () => {
  const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url }, children });
  const root = "file:///repo/";
  const profile: CpuProfile = {
    nodes: [
      frame(1, "(root)", "", [2, 3, 4, 5, 8]),
      frame(2, "(idle)", ""),
      frame(3, "(program)", ""),
      frame(4, "(garbage collector)", ""),
      // A socket write under the pg driver under the ledger's code: the driver's.
      frame(5, "charge", `${root}services/ledger/src/domain/ledger.ts`, [6]),
      frame(6, "submit", `${root}node_modules/pg/lib/client.js`, [7]),
      frame(7, "writeGeneric", "node:internal/stream_base_commons"),
      // The validation walk under grpc-js: validation's.
      frame(8, "onReceiveMessage", `${root}node_modules/@grpc/grpc-js/build/src/server-interceptors.js`, [9]),
      frame(9, "walk", `${root}packages/grpc-kit/src/validation.ts`),
    ],
    samples: [2, 2, 3, 4, 7, 7, 7, 5, 9, 8],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const summary = summarise(profile, 2);
  expect(summary.programMs).toBe(1);
  expect(summary.attributedMs).toBe(7);
  expect(summary.byCategory).toEqual({
    "driver (pg)": { ms: 3, percent: 42.9, msPerKiloOp: 1500 },
    GC: { ms: 1, percent: 14.3, msPerKiloOp: 500 },
    ledger: { ms: 1, percent: 14.3, msPerKiloOp: 500 },
    validation: { ms: 1, percent: 14.3, msPerKiloOp: 500 },
    gRPC: { ms: 1, percent: 14.3, msPerKiloOp: 500 },
  });
});

it("gives each allocated byte to the first category from the allocating frame up, per operation, and names the functions allocating the most", () => {
  const root = "file:///repo/";
  const node = (functionName: string, url: string, selfSize: number, children: AllocationProfile["head"][] = []) => ({ callFrame: { functionName, url, lineNumber: 9 }, selfSize, children });
  const profile: AllocationProfile = {
    head: node("(root)", "", 0, [
      // A Map made by the ledger's code: the ledger's.
      node("execute", `${root}services/ledger/src/domain/state-machine.ts`, 1000, [node("Map", "", 3000)]),
      // A buffer under the pg driver: the driver's.
      node("parse", `${root}node_modules/pg-protocol/dist/parser.js`, 0, [node("Uint8Array", "", 2000)]),
      // Nothing of ours above it.
      node("nextTick", "node:internal/process/task_queues", 2000),
    ]),
  };
  const summary = summariseAllocations(profile, 4, 2);
  expect(summary.bytesPerOp).toBe(2000);
  expect(summary.byCategory).toEqual({
    ledger: { percent: 50, bytesPerOp: 1000 },
    "driver (pg)": { percent: 25, bytesPerOp: 500 },
    "Node internals, unattributed": { percent: 25, bytesPerOp: 500 },
  });
  expect(summary.topFunctions).toEqual([
    ["Map :10", 750],
    ["Uint8Array :10", 500],
  ]);
});

it("finds when the slowest operations of an open loop started, as windows of operations close together", () => {
  const latencies = new Latencies();
  // 200 operations 10 ms apart at 5 ms; a stall delays the ones starting at 0.50–0.52 s, and one at 1.5 s is slow alone.
  for (let i = 0; i < 200; i++) {
    const at = i * 10;
    const ms = at >= 500 && at <= 520 ? 100 - (at - 500) : at === 1500 ? 40 : 5;
    latencies.record("Authorize", ms, at);
  }
  expect(latencies.slowest("Authorize", 0.02)).toEqual([
    { fromS: 0.5, toS: 0.52, count: 3, worstMs: 100 },
    { fromS: 1.5, toS: 1.5, count: 1, worstMs: 40 },
  ]);
  // Without start times (a closed loop) there is nothing to say.
  const closed = new Latencies();
  closed.record("Authorize", 5);
  expect(closed.slowest("Authorize")).toEqual([]);
});
