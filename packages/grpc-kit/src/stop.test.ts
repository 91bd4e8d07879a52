import { afterEach, expect, it, vi } from "vitest";
import { stopInOrder } from "./stop.js";

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

it("names a step still running after its time in the log and goes on with the rest", async () => {
  const lines = logged();
  const ran: string[] = [];
  await stopInOrder("notifications", { "ledger event consumer": () => new Promise(() => {}), database: () => void ran.push("database") }, 20);
  expect(ran).toEqual(["database"]);
  expect(lines()).toEqual([expect.objectContaining({ level: "warn", service: expect.any(String), step: "ledger event consumer", timeoutMs: 20, msg: expect.stringContaining("leaving it behind") })]);
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
