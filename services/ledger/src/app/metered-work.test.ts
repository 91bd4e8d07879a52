import { ConflictError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import type { RateTable } from "@tollgate/rating";
import { describe, expect, it } from "vitest";
import type { LedgerStore, WorkRow } from "../data/ledger-store.js";
import type { RateCache } from "../data/rate-cache.js";
import type { AccountView } from "../domain/account-view.js";
import type { WorkCallAnswer } from "../domain/commands.js";
import { MemoryLedgerStore } from "../domain/memory-store.js";
import type { Work } from "../domain/state.js";
import type { LedgerDeps } from "../domain/use-cases/run.js";
import { Ledger, MAX_STALE_ATTEMPTS } from "./metered-work.js";

const CREDIT = 1_000_000n;

const table: RateTable = {
  tableId: "rates", version: 1n, effectiveFrom: new Date("2026-01-01T00:00:00Z"),
  rates: [{ bucket: "compute", unit: "credits", kind: "active_minute", microsPerMinute: 60n * CREDIT }], // a credit an active second
};

const row = (w: Work): WorkRow => ({
  work_id: w.workId, kind: w.kind, account_id: w.accountId, work_kind: w.workKind ?? "", state: w.state, usage: w.usage, replicas: w.replicas,
  charged_until: new Date(w.chargedUntilMs), active_ms: String(w.activeMs), charged_micros: String(w.chargedMicros), attribution: w.attribution, labels: w.labels,
  context: w.context, metered: w.metered, priced_quantity: String(w.pricedQuantity), priced_micros: String(w.pricedMicros), stop_reason: w.stopReason,
  created_at: new Date(w.createdAtMs), ended_at: null, rate_table_id: w.rateTableId ?? null,
});

/**
 * Metered work over the in-memory state store, with the ledger store's reads
 * of work and keys answered from it. `staleReads` reads of the work answer it
 * as it stood a second before: as if a metering tick moved it on after each
 * read, so the call's tick is stale.
 */
function meteredWork(fields: Partial<AccountView> = {}) {
  const account: AccountView = {
    accountId: "acme", status: "active", planId: "team", planVersion: 1n, cycleAnchor: new Date("2026-11-01T00:00:00Z"), rateTableId: "rates",
    drawdownOrder: [], thresholdPercents: [], units: [{ unit: "credits", allotmentMicros: 100n * CREDIT, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n }],
    billingMode: "credits", seats: 1, deploymentMode: "cloud", eligibility: [], meteredBuckets: [], signupGrants: [], ...fields,
  };
  let now = new Date("2026-11-20T12:00:00Z");
  const memory = new MemoryLedgerStore();
  const rates = { inEffect: async () => table, published: async () => new Map<bigint, RateTable>() };
  const deps: LedgerDeps = {
    store: memory, rates, now: () => now,
    accounts: { get: async (id) => (id === account.accountId ? account : Promise.reject(new NotFoundError("account", id))) },
  };
  const reads = { stale: 0 };
  const remembered: string[] = [];
  const work = async (accountId: string, workId: string) => {
    const item = (await memory.account(accountId))?.work.get(workId);
    if (!item) return undefined;
    const read = row(item);
    if (reads.stale > 0) {
      reads.stale--;
      read.charged_until = new Date(item.chargedUntilMs - 1_000);
    }
    return read;
  };
  const store: Partial<LedgerStore> = {
    work,
    workNamed: async (workId) => [await work(account.accountId, workId)].filter((w) => w !== undefined),
    recall: async (accountId, key, requestHash) => {
      const record = (await memory.account(accountId))?.idempotency.get(key);
      if (!record) return undefined;
      if (record.requestHash !== requestHash) throw new IdempotencyKeyReusedError(key);
      return record.response;
    },
    remember: async (_accountId, key) => {
      remembered.push(key);
    },
  };
  const ledger = new Ledger(store as LedgerStore, rates as unknown as RateCache, deps);
  const endRun = (runId: string, idempotencyKey: string) =>
    ledger.once("run", runId, "end_run", { accountId: "acme", idempotencyKey }, async (call, before, ref) => {
      return ["running", "paused"].includes(before.state) ? (await ledger.meter(ref, { nextState: "finished", call })).work : undefined;
    }, (answer: WorkCallAnswer) => answer);
  return {
    ledger, memory, reads, remembered, account, endRun,
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    stored: async (workId: string) => (await memory.account("acme"))!.work.get(workId),
    key: async (key: string) => (await memory.account("acme"))!.idempotency.get(key),
  };
}

describe("metered work", () => {
  it("ends a run whose tick lost its race to a metering tick fewer than MAX_STALE_ATTEMPTS times: it meters it again", async () => {
    const m = meteredWork();
    expect(await m.ledger.startRun({ accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "start" })).toMatchObject({ allowed: true });
    m.advance(3_000);
    m.reads.stale = MAX_STALE_ATTEMPTS; // the run looked up, then all but the last attempt stale
    expect(await m.endRun("run-1", "end")).toMatchObject({ state: "finished", totalChargedMicros: 3n * CREDIT });
    expect((await m.stored("run-1"))?.state).toBe("finished");
  });

  it("answers ABORTED, changing and recording nothing, when an end's tick is still stale after MAX_STALE_ATTEMPTS: the retry with its key ends the run", async () => {
    const m = meteredWork();
    await m.ledger.startRun({ accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "start" });
    m.advance(3_000);
    m.reads.stale = Number.POSITIVE_INFINITY;
    const aborted = await m.endRun("run-1", "end").catch((error: unknown) => error);
    expect(aborted).toBeInstanceOf(ConflictError);
    expect(aborted).toMatchObject({ kind: "aborted", reason: "WORK_CHANGED_CONCURRENTLY", message: expect.stringContaining("retry") });
    // Not answered as if it had ended: the run runs on, and nothing is recorded under the key…
    expect(await m.stored("run-1")).toMatchObject({ state: "running", chargedMicros: 0n });
    expect(await m.key("end")).toBeUndefined();
    expect(m.remembered).toEqual([]);
    // …so the caller's retry ends it, and its answer is the one recorded.
    m.reads.stale = 0;
    const ended = await m.endRun("run-1", "end");
    expect(ended).toMatchObject({ state: "finished", totalChargedMicros: 3n * CREDIT });
    expect(await m.key("end")).toMatchObject({ operation: "end_run", response: ended });
  });

  it("recalls a start's key before suspension denies it: a retry answers the start; a denied start's key starts nothing after reactivation", async () => {
    const m = meteredWork();
    const start = { accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "K" };
    expect(await m.ledger.startRun(start)).toMatchObject({ allowed: true, metered: true });
    m.account.status = "suspended";
    expect(await m.ledger.startRun(start)).toMatchObject({ allowed: true, replayed: true });
    expect((await m.stored("run-1"))?.state).toBe("running");

    const denied = { ...start, runId: "run-2", idempotencyKey: "K2" };
    expect(await m.ledger.startRun(denied)).toEqual({ allowed: false, reason: "ACCOUNT_SUSPENDED", message: "the account is suspended", metered: true, unit: "credits", replayed: false });
    m.account.status = "active";
    await expect(m.ledger.startRun({ ...denied, runId: "run-3" })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await m.stored("run-3")).toBeUndefined();
    expect(await m.ledger.startRun(denied)).toMatchObject({ allowed: false, reason: "ACCOUNT_SUSPENDED", replayed: true });
  });

  it("denies a start the plan's rules do not allow NOT_ELIGIBLE, unmetered, in the rule's words, recorded under its key", async () => {
    const cloudOnly = { runLocations: ["cloud" as const], inferenceSources: [], computeSources: [], maxSeats: 0, allowed: true, reason: "", buckets: ["compute" as const], metered: true };
    const m = meteredWork({ eligibility: [cloudOnly] });
    const local = { accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "L", context: { runLocation: "local", inferenceSource: "managed", computeSource: "hosted" } as const };
    expect(await m.ledger.startRun(local)).toEqual({ allowed: false, reason: "NOT_ELIGIBLE", message: "no eligibility rule of the plan allows this run", metered: false, unit: "credits", replayed: false });
    expect(await m.key("L")).toMatchObject({ operation: "start_run", response: { allowed: false, reason: "NOT_ELIGIBLE" } });
    await expect(m.ledger.startRun({ ...local, runId: "run-2" })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it("refuses a caller's key with the ledger's own prefix on StartRun, Deploy and the calls on work", async () => {
    const m = meteredWork();
    const refused = (promise: Promise<unknown>) => expect(promise).rejects.toMatchObject({ constructor: InvalidArgumentError, field: "idempotency_key" });
    await refused(m.ledger.startRun({ accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "meter:run-1:open" }));
    await refused(m.ledger.deploy({ accountId: "acme", deploymentId: "d-1", hardware: { kind: "cpu_time", cpuType: "x86", cores: 1n, seconds: 0n }, replicas: 1, attribution: {}, idempotencyKey: "meter:d-1:1" }));
    await m.ledger.startRun({ accountId: "acme", runId: "run-1", attribution: {}, idempotencyKey: "start" });
    await refused(m.endRun("run-1", "meter:run-1:end"));
    expect((await m.stored("run-1"))?.state).toBe("running");
  });
});
