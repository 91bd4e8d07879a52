import { expect, it } from "vitest";
import { Latencies } from "../bench/load.js";
import { parseOptions } from "../bench/options.js";
import { summarise, type CpuProfile } from "../bench/profile.js";

it("reads the bench's options and refuses unknown workloads and replica counts out of range", () => {
  expect(parseOptions([])).toEqual({ quick: false, only: undefined, openLoop: true, replicas: 1, profileDir: undefined });
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
