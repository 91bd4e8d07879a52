import { afterEach, expect, it, vi } from "vitest";
import { stopInOrder, together } from "./stop.js";

const logged = () => {
  const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  return () => write.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
};

afterEach(() => vi.restoreAllMocks());

it("runs the steps in order, each after the one before has finished", async () => {
  const ran: string[] = [];
  const later = (name: string) => () => new Promise<void>((resolve) => setTimeout(() => (ran.push(name), resolve()), 5));
  await stopInOrder("ledger", { consumer: later("consumer"), server: () => void ran.push("server"), database: later("database") });
  expect(ran).toEqual(["consumer", "server", "database"]);
});

it("names a step still running after its time in the log, goes on with the rest, then says the stop was not clean", async () => {
  const lines = logged();
  const ran: string[] = [];
  const stopping = stopInOrder("notifications", { "ledger event consumer": () => new Promise(() => {}), database: () => void ran.push("database") }, { stepTimeoutMs: 1_000 });
  await expect(stopping).rejects.toThrow("the shutdown step ledger event consumer was still running after 1000 ms");
  expect(ran).toEqual(["database"]);
  expect(lines()).toEqual([expect.objectContaining({ level: "warn", service: expect.any(String), step: "ledger event consumer", timeoutMs: 1_000, msg: expect.stringContaining("leaving it behind") })]);
});

it("gives the steps after a slow one only what is left of the whole stop's time (but a second each)", async () => {
  const lines = logged();
  const slow = () => new Promise((resolve) => setTimeout(resolve, 1_500));
  const stopping = stopInOrder("ledger", { jobs: slow, "gRPC server": () => new Promise(() => {}), database: () => undefined }, { stepTimeoutMs: 5_000, totalTimeoutMs: 2_000 });
  await expect(stopping).rejects.toThrow("gRPC server");
  // 2 s in all: the server's step had the half second left, raised to the one-second floor.
  expect(lines()).toEqual([expect.objectContaining({ step: "gRPC server", timeoutMs: 1_000 })]);
});

it("runs every step when one throws, then throws what failed", async () => {
  const lines = logged();
  const ran: string[] = [];
  const failure = new Error("pool already closed");
  await expect(stopInOrder("pricing", { server: () => Promise.reject(failure), database: () => void ran.push("database") })).rejects.toBe(failure);
  expect(ran).toEqual(["database"]);
  expect(lines()).toEqual([expect.objectContaining({ level: "error", step: "server", err: expect.objectContaining({ message: "pool already closed" }) })]);

  const both = stopInOrder("pricing", { server: () => { throw new Error("a"); }, database: () => { throw new Error("b"); } });
  await expect(both).rejects.toMatchObject({ message: "2 shutdown steps of pricing failed", errors: [{ message: "a" }, { message: "b" }] });
});

it("stops the parts of a step at once, waits for all of them, and names those that failed", async () => {
  const ended: string[] = [];
  const slow = (name: string, ms: number) => () => new Promise<void>((resolve) => setTimeout(() => (ended.push(name), resolve()), ms));
  const step = together({ sweep: slow("sweep", 30), tick: () => Promise.reject(new Error("pool closed")), reconciliation: slow("reconciliation", 10) });
  await expect(step()).rejects.toThrow("failed to stop: tick");
  // The failure did not cut the others short.
  expect(ended.sort()).toEqual(["reconciliation", "sweep"]);
});

