import { expect, it } from "vitest";
import { parseOptions } from "../bench/options.js";
import { summarise, type CpuProfile } from "../bench/profile.js";

it("reads the bench's options and refuses unknown workloads and replica counts out of range", () => {
  expect(parseOptions([])).toEqual({ quick: false, only: undefined, replicas: 1, profileDir: undefined });
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
