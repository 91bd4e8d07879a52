import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { call, createClient, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { scrape, value } from "./prometheus.js";

let db: TestDatabase;
let platform: Platform;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const L = ledgerV1;

async function plan(planId: string, credits: number, negative: number, lowCredit: number) {
  await call(platform.clients.entitlements, platform.clients.entitlements.publishPlan, {
    actor: "test",
    reason: "",
    plan: entitlementsV1.Plan.fromPartial({
      planId, name: planId, rateTableId: "time",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(credits * CREDIT) }],
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(negative * CREDIT), lowCreditLimitMicros: String(lowCredit * CREDIT) }],
    }),
  });
}

const account = (accountId: string, planId: string) =>
  call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1 }));

const gpu = (gpuType: string): pricingV1.Usage => ({ kind: { $case: "gpuTime", gpuTime: { gpuType, replicas: "0", seconds: "0" } } });

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  const rate = (kind: pricingV1.Rate["kind"]): pricingV1.Rate => ({ bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind });
  await call(platform.clients.pricing, platform.clients.pricing.publishRateTable, {
    tableId: "time", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
    rates: [
      rate({ $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } }), // 1 credit per active second
      rate({ $case: "gpuHour", gpuHour: { gpuType: "A100", microsPerReplicaHour: String(3600 * CREDIT) } }), // 1 credit per replica-second
      rate({ $case: "gpuHour", gpuHour: { gpuType: "H100", microsPerReplicaHour: String(36_000 * CREDIT) } }), // 10 per replica-second
    ],
  });
  await plan("time", 1000, 0, 20);
  await plan("tiny", 1, 1, 0);
  await plan("low", 100, 0, 20);
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("runs", () => {
  it("charges only active time: not the pause, whole seconds, and reports it at the end", async () => {
    await account("runner", "time");
    const { ledger } = platform.clients;
    const started = await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "runner", runId: "run-1", idempotencyKey: "run-1" }));
    expect(started.allowed).toBe(true);
    await sleep(2_200);
    await call(ledger, ledger.pauseRun, { accountId: "runner", runId: "run-1", idempotencyKey: "p1" });
    await sleep(1_500); // waiting for user input: free
    await call(ledger, ledger.resumeRun, { accountId: "runner", runId: "run-1", idempotencyKey: "r1" });
    await sleep(1_100);
    const ended = await call(ledger, ledger.endRun, { accountId: "runner", runId: "run-1", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e1" });
    expect(ended).toEqual({ totalChargedMicros: String(3 * CREDIT), chargedMicros: String(3 * CREDIT), activeSeconds: "3" });
    const again = await call(ledger, ledger.endRun, { accountId: "runner", runId: "run-1", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e2" });
    expect(again.chargedMicros).toBe(String(3 * CREDIT));
    const replay = await call(ledger, ledger.endRun, { accountId: "runner", runId: "run-1", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e1" });
    expect(replay).toEqual(ended);
    const reused = await call(ledger, ledger.endRun, { accountId: "runner", runId: "run-1", state: L.RunEndState.RUN_END_STATE_FAILED, idempotencyKey: "e1" }).catch((e: unknown) => e);
    expect(errorDetails(reused)).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });
    // Each charge names who made it: the ledger's own ticks "system", a pause or end the caller that sent it.
    const { entries } = await call(ledger, ledger.listEntries, L.ListEntriesRequest.fromPartial({ accountId: "runner", kind: L.EntryKind.ENTRY_KIND_CHARGE, page: { pageSize: 100 } }));
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((e) => e.actor !== "system" && e.actor !== platform.principal)).toEqual([]);
    expect(entries.some((e) => e.actor === "system"), "the ticks while it ran charged").toBe(true);
  });

  it("records a call's key with the state change it makes: repeats sent at once all answer the one pause, which charged once", async () => {
    await account("repeater", "time");
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "repeater", runId: "run-rep", idempotencyKey: "run-rep" }));
    await sleep(2_100);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Three more seconds to charge, for the pause (the 200 ms metering tick may take some first). Half a second off
      // the whole seconds ticks end on, so no tick's own key (`meter:<work>:<to>`) comes round again.
      await client.query(`update ledger.metered_work set charged_until = charged_until - interval '3.5 seconds' where work_id = 'run-rep'`);
      const pauses = await Promise.all(Array.from({ length: 12 }, () => call(ledger, ledger.pauseRun, { accountId: "repeater", runId: "run-rep", idempotencyKey: "pause-once" })));
      expect(new Set(pauses.map((p) => JSON.stringify(p))).size).toBe(1);
      const { rows } = await client.query(
        `select (select count(*)::int from ledger.idempotency_keys where account_id = 'repeater' and idempotency_key = 'pause-once') as records,
                (select state from ledger.metered_work where work_id = 'run-rep') as state,
                (select charged_micros::text from ledger.metered_work where work_id = 'run-rep') as charged,
                (select coalesce(sum(amount_micros), 0)::text from ledger.entries where account_id = 'repeater' and kind = 'charge') as journaled`,
      );
      expect(rows[0]).toMatchObject({ records: 1, state: "paused" });
      expect(rows[0].charged).toBe(rows[0].journaled); // nothing charged twice, nothing lost
    } finally {
      await client.end();
    }
    // A resume, an end and their repeats: each answers as the first did.
    const resumed = await Promise.all([1, 2, 3].map(() => call(ledger, ledger.resumeRun, { accountId: "repeater", runId: "run-rep", idempotencyKey: "resume-once" })));
    expect(resumed).toEqual([{ proceed: true }, { proceed: true }, { proceed: true }]);
    const ended = await Promise.all([1, 2, 3].map(() => call(ledger, ledger.endRun, { accountId: "repeater", runId: "run-rep", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-once" })));
    expect(new Set(ended.map((e) => JSON.stringify(e))).size).toBe(1);
    expect(BigInt(ended[0]!.chargedMicros)).toBeGreaterThanOrEqual(2n * BigInt(CREDIT));
  });

  it("meters a run whose id is as long as ids may be (128 characters): its ticks, pause and end are charged", async () => {
    await account("long-id", "time");
    const { ledger } = platform.clients;
    const runId = "r".repeat(128);
    expect((await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "long-id", runId, idempotencyKey: "long-start" }))).allowed).toBe(true);
    await sleep(1_100);
    await call(ledger, ledger.pauseRun, { accountId: "long-id", runId, idempotencyKey: "long-pause" });
    const ended = await call(ledger, ledger.endRun, { accountId: "long-id", runId, state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "long-end" });
    expect(Number(ended.activeSeconds)).toBeGreaterThanOrEqual(1);
    expect(ended.totalChargedMicros).toBe(String(Number(ended.activeSeconds) * CREDIT));
  });

  it("answers a retried start as it answered though support suspended the account since, and keeps a start denied while suspended under its key", async () => {
    await account("suspending", "time");
    const { ledger, entitlements } = platform.clients;
    const setStatus = (status: entitlementsV1.AccountStatus) =>
      call(entitlements, entitlements.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({ accountId: "suspending", status, actor: "support@example.com", reason: "unpaid invoice" }));
    let probe = 0;
    /** Waits until the ledger has heard of the account's status: a second of active time is authorized, or denied ACCOUNT_SUSPENDED. */
    const ledgerHears = (suspended: boolean) =>
      eventually(async () => {
        const answer = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({
          accountId: "suspending", estimate: { kind: { $case: "activeTime", activeTime: { seconds: "1" } } }, idempotencyKey: `suspending-probe-${probe++}`, ttlMs: "1000",
        }));
        return (answer.reason === L.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED) === suspended ? answer : undefined;
      }, 5_000, suspended ? "the suspension in the ledger" : "the reactivation in the ledger");
    const runState = async (runId: string) =>
      (await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "suspending", kind: "run", state: "", page: undefined })).work.find((w) => w.workId === runId)?.state;

    // StartRun(K, r1) allowed; support suspends the account; the caller's retry of StartRun(K, r1) answers allowed, as r1 runs on.
    const start = L.StartRunRequest.fromPartial({ accountId: "suspending", runId: "susp-r1", idempotencyKey: "susp-k1" });
    const started = await call(ledger, ledger.startRun, start);
    expect(started).toMatchObject({ allowed: true, metered: true });
    await setStatus(entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED);
    await ledgerHears(true);
    expect(await call(ledger, ledger.startRun, start)).toEqual(started);
    expect(await runState("susp-r1")).toBe("running");

    // StartRun(K2, r2) on the suspended account is denied, and the denial is recorded under K2: after reactivation
    // StartRun(K2, r3) is a reused key and starts nothing, while StartRun(K2, r2) replays the denial.
    const denied = L.StartRunRequest.fromPartial({ accountId: "suspending", runId: "susp-r2", idempotencyKey: "susp-k2" });
    expect(await call(ledger, ledger.startRun, denied)).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED, message: "the account is suspended" });
    await setStatus(entitlementsV1.AccountStatus.ACCOUNT_STATUS_ACTIVE);
    await ledgerHears(false);
    const reused = await call(ledger, ledger.startRun, { ...denied, runId: "susp-r3" }).catch((e: unknown) => e);
    expect(errorDetails(reused)).toMatchObject({ code: status.ALREADY_EXISTS, reason: "IDEMPOTENCY_KEY_REUSED" });
    expect(await call(ledger, ledger.startRun, denied)).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED });
    expect([await runState("susp-r2"), await runState("susp-r3")]).toEqual([undefined, undefined]);
    await call(ledger, ledger.endRun, { accountId: "suspending", runId: "susp-r1", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "susp-end" });
  });

  it("refuses a caller's idempotency key with the prefix of the ledger's own keys (`meter:`), naming the field, and starts nothing", async () => {
    await account("reserved-keys", "time");
    const { ledger } = platform.clients;
    const refused = await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "reserved-keys", runId: "rk-1", idempotencyKey: "meter:rk-1:open" })).catch((e: unknown) => e);
    expect(errorDetails(refused)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "idempotency_key" }] });
    expect((await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "reserved-keys", kind: "", state: "", page: undefined })).work).toEqual([]);
  });

  it("stops a long run when the balance is gone and emits a stop event with the reason", async () => {
    await account("short", "tiny");
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "short", runId: "run-long", idempotencyKey: "run-long" }));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const stopped = await eventually(async () => {
        const { rows } = await client.query(`select state, stop_reason, charged_micros from ledger.metered_work where work_id = 'run-long'`);
        return rows[0]?.state === "stopped" ? rows[0] : undefined;
      }, 15_000, "the run to stop");
      expect(stopped.charged_micros).toBe(String(2 * CREDIT)); // 1 credit and the 1-credit negative limit
      const { rows } = await client.query(`select payload from ledger.outbox where account_id = 'short' and kind = 'work_stopped'`);
      expect(rows[0].payload).toMatchObject({ run_id: "run-long", message: expect.stringContaining("add more credits") });
    } finally {
      await client.end();
    }
    const refused = await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "short", runId: "run-next", idempotencyKey: "run-next" }));
    expect(refused).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS });
  });
});

describe("deployments", () => {
  it("bills per replica-second: two replicas cost twice one", async () => {
    await account("hosting", "time");
    const { ledger } = platform.clients;
    for (const [id, replicas] of [["one", 1], ["two", 2]] as const) {
      const deployed = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "hosting", deploymentId: id, hardware: gpu("A100"), replicas, idempotencyKey: id }));
      expect(deployed.allowed).toBe(true);
    }
    await sleep(2_300);
    const one = await call(ledger, ledger.undeploy, { accountId: "hosting", deploymentId: "one", idempotencyKey: "u1" });
    const two = await call(ledger, ledger.undeploy, { accountId: "hosting", deploymentId: "two", idempotencyKey: "u2" });
    const oneCredits = Number(one.chargedMicros) / CREDIT;
    const twoCredits = Number(two.chargedMicros) / CREDIT;
    expect(oneCredits).toBeGreaterThanOrEqual(2);
    expect(twoCredits % 2).toBe(0); // every second costs two replica-seconds
    expect(Math.abs(twoCredits - 2 * oneCredits)).toBeLessThanOrEqual(2); // the same time, give or take the second between the two calls
  });

  it("keeps pricing a deployment with the rate table it started with after its account moves to a plan whose table lacks its hardware", async () => {
    const { ledger, entitlements, pricing } = platform.clients;
    // A table without GPUs, and a plan on it.
    await call(pricing, pricing.publishRateTable, {
      tableId: "cpu-only", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
      rates: [{ bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } } }],
    });
    await call(entitlements, entitlements.publishPlan, {
      actor: "test", reason: "",
      plan: entitlementsV1.Plan.fromPartial({ planId: "cpu-only", name: "cpu-only", rateTableId: "cpu-only", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(1000 * CREDIT) }] }),
    });
    await account("mover", "time");
    const deployed = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "mover", deploymentId: "gpu", hardware: gpu("A100"), replicas: 1, idempotencyKey: "mover-gpu" }));
    expect(deployed.allowed).toBe(true);
    await call(entitlements, entitlements.changeAccountPlan, { accountId: "mover", planId: "cpu-only", seats: 0, reason: "downgrade", idempotencyKey: "mover-plan" });
    // Once the ledger prices the account's new work with the new table, an A100 has no rate there.
    let probe = 0;
    await eventually(async () => {
      const answer = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({
        accountId: "mover", estimate: { kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "1", seconds: "1" } } }, idempotencyKey: `mover-probe-${probe++}`, ttlMs: "1000",
      })).catch((error: unknown) => error);
      if (errorDetails(answer)?.code === status.NOT_FOUND) return true;
      if ((answer as ledgerV1.AuthorizeResponse).holdId) await call(ledger, ledger.release, { accountId: "mover", holdId: (answer as ledgerV1.AuthorizeResponse).holdId, idempotencyKey: `mover-release-${probe}` });
      return undefined;
    }, 5_000, "the plan change in the ledger");
    await sleep(1_200);
    // Scaling and undeploying meter the time so far: at the A100's rate it started with, 1 credit a replica-second.
    await call(ledger, ledger.scale, { accountId: "mover", deploymentId: "gpu", replicas: 2, idempotencyKey: "mover-scale" });
    await sleep(1_100);
    const undeployed = await call(ledger, ledger.undeploy, { accountId: "mover", deploymentId: "gpu", idempotencyKey: "mover-undeploy" });
    expect(Number(undeployed.chargedMicros) / CREDIT).toBeGreaterThanOrEqual(3);
    const work = (await call(ledger, ledger.listMeteredWork, { workId: "gpu", accountId: "mover", kind: "deployment", state: "", page: undefined })).work;
    expect(work.map((w) => w.state)).toEqual(["undeployed"]);
  });

  it("refuses a new deployment once the balance is below the low-credit limit", async () => {
    await account("lowcredit", "low");
    const { ledger } = platform.clients;
    await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "lowcredit", deploymentId: "big", hardware: gpu("H100"), replicas: 10, idempotencyKey: "big" }));
    // 100 credits per second: below the 20-credit low-credit limit within a second or so.
    await eventually(async () => {
      const balance = await call(ledger, ledger.getBalance, { accountId: "lowcredit" });
      return BigInt(balance.units[0]!.availableMicros) < 20n * BigInt(CREDIT) ? true : undefined;
    }, 15_000, "the balance to fall below the low-credit limit");
    const refused = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "lowcredit", deploymentId: "small", hardware: gpu("A100"), replicas: 1, idempotencyKey: "small" }));
    expect(refused).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_BELOW_LOW_CREDIT_LIMIT });
    const decisions = { tollgate_operation: "deploy", tollgate_unit: "credits", tollgate_allowed: "false", tollgate_reason: "BELOW_LOW_CREDIT_LIMIT" };
    expect(value(await scrape(platform.ledger.metrics.url), "tollgate_ledger_decisions_total", decisions)).toBe(1);
    await call(ledger, ledger.undeploy, { accountId: "lowcredit", deploymentId: "big", idempotencyKey: "ub" });
  });

  it("lists the work in flight and the holds still open", async () => {
    await account("flight", "time");
    const { ledger } = platform.clients;
    await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "flight", deploymentId: "flight-gpu", hardware: gpu("A100"), replicas: 3, idempotencyKey: "fg", endpoint: "https://models.example/flight-gpu", labels: { type: "fine-tuned", "base-model": "llama-3-8b" } }));
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "flight", runId: "flight-run", idempotencyKey: "fr" }));
    await call(ledger, ledger.endRun, { accountId: "flight", runId: "flight-run", state: L.RunEndState.RUN_END_STATE_CANCELLED, idempotencyKey: "fe" });
    const running = await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", kind: "", state: "running", page: undefined });
    expect(running.work).toMatchObject([{ workId: "flight-gpu", kind: "deployment", replicas: 3, state: "running", labels: { type: "fine-tuned", "base-model": "llama-3-8b" } }]);
    const all = await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", kind: "run", state: "", page: undefined });
    expect(all.work.map((w) => [w.workId, w.state, w.labels])).toEqual([["flight-run", "cancelled", {}]]);
    // Page by page, newest first: the run (started after the deployment), then the deployment, then no more.
    const first = await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", kind: "", state: "", page: { pageSize: 1, pageToken: "" } });
    const second = await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", kind: "", state: "", page: { pageSize: 1, pageToken: first.nextPageToken } });
    expect([...first.work, ...second.work].map((w) => w.workId)).toEqual(["flight-run", "flight-gpu"]);
    expect(second.nextPageToken).toBe("");
    // A state or kind filter that names none is refused by name, not answered with an empty page.
    for (const [field, filter] of [["state", { kind: "", state: "done" }], ["kind", { kind: "job", state: "" }]] as const) {
      const refused = await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", ...filter, page: undefined }).catch((e: unknown) => e);
      expect(errorDetails(refused)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field }] });
    }
    // A label key outside the allowed form is refused by name, and nothing starts.
    const bad = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId: "flight", deploymentId: "bad-labels", hardware: gpu("A100"), replicas: 1, idempotencyKey: "bl", labels: { "Not Allowed": "x" } })).catch((e: unknown) => e);
    expect(errorDetails(bad)).toMatchObject({ code: 3, fieldViolations: [{ field: "labels", description: expect.stringContaining('key "Not Allowed"') }] });
    expect((await call(ledger, ledger.listMeteredWork, { workId: "", accountId: "flight", kind: "deployment", state: "", page: undefined })).work.map((w) => w.workId)).toEqual(["flight-gpu"]);
    // One work's row by its id, whatever else the account has (a client asking whether its run was stopped).
    const one = await call(ledger, ledger.listMeteredWork, { workId: "flight-gpu", accountId: "flight", kind: "", state: "", page: undefined });
    expect(one.work.map((w) => w.workId)).toEqual(["flight-gpu"]);
    expect((await call(ledger, ledger.listMeteredWork, { workId: "no-such-work", accountId: "flight", kind: "", state: "", page: undefined })).work).toEqual([]);
    await call(ledger, ledger.undeploy, { accountId: "flight", deploymentId: "flight-gpu", idempotencyKey: "fu" });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(`select payload from ledger.outbox where account_id = 'flight' and kind = 'deployment_changed' order by id`);
      expect(rows.map((r) => [r.payload.state, r.payload.endpoint, r.payload.replicas])).toEqual([
        ["deployed", "https://models.example/flight-gpu", 3],
        ["undeployed", "https://models.example/flight-gpu", 3],
      ]);
    } finally {
      await client.end();
    }
  });
});

describe("run and deployment ids belong to their account", () => {
  const state = async (accountId: string, workId: string) => {
    const { ledger } = platform.clients;
    const listed = await call(ledger, ledger.listMeteredWork, { accountId, kind: "", state: "", workId, page: undefined });
    return listed.work.find((w) => w.workId === workId)?.state;
  };

  it("lets two accounts use one id: a call on one account's run or deployment leaves the other's running", async () => {
    await account("tenant-x", "time");
    await account("tenant-y", "time");
    const { ledger } = platform.clients;
    for (const accountId of ["tenant-x", "tenant-y"]) {
      expect((await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId, runId: "shared", idempotencyKey: "start-shared" }))).allowed).toBe(true);
      const deployed = await call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId, deploymentId: "shared-gpu", hardware: gpu("A100"), replicas: 1, idempotencyKey: "deploy-shared" }));
      expect(deployed.allowed).toBe(true);
    }
    await call(ledger, ledger.endRun, { accountId: "tenant-x", runId: "shared", state: L.RunEndState.RUN_END_STATE_CANCELLED, idempotencyKey: "end-x" });
    await call(ledger, ledger.undeploy, { accountId: "tenant-y", deploymentId: "shared-gpu", idempotencyKey: "undeploy-y" });
    expect([await state("tenant-x", "shared"), await state("tenant-y", "shared")]).toEqual(["cancelled", "running"]);
    expect([await state("tenant-x", "shared-gpu"), await state("tenant-y", "shared-gpu")]).toEqual(["running", "undeployed"]);

    // A caller that names no account cannot say which one it means.
    const ambiguous = await call(ledger, ledger.endRun, L.EndRunRequest.fromPartial({ runId: "shared", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-any" })).catch((e: unknown) => e);
    expect(errorDetails(ambiguous)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "account_id" }] });
    const scaleAny = await call(ledger, ledger.scale, L.ScaleRequest.fromPartial({ deploymentId: "shared-gpu", replicas: 2, idempotencyKey: "scale-any" })).catch((e: unknown) => e);
    expect(errorDetails(scaleAny)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "account_id" }] });
    expect(await state("tenant-y", "shared")).toBe("running");

    // An id in one account only still works without the account (callers from before it was sent), and is not found from another account.
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "tenant-y", runId: "only-y", idempotencyKey: "start-only-y" }));
    const elsewhere = await call(ledger, ledger.pauseRun, { accountId: "tenant-x", runId: "only-y", idempotencyKey: "pause-from-x" }).catch((e: unknown) => e);
    expect(errorDetails(elsewhere)).toMatchObject({ code: status.NOT_FOUND });
    await call(ledger, ledger.pauseRun, L.PauseRunRequest.fromPartial({ runId: "only-y", idempotencyKey: "pause-only-y" }));
    expect(await state("tenant-y", "only-y")).toBe("paused");
    await call(ledger, ledger.endRun, { accountId: "tenant-y", runId: "shared", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-y" });
    await call(ledger, ledger.undeploy, { accountId: "tenant-x", deploymentId: "shared-gpu", idempotencyKey: "undeploy-x" });
  });

  it("keeps a credential limited to one account to that account's runs", async () => {
    await account("tenant-z", "time");
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "tenant-z", runId: "z-run", idempotencyKey: "start-z" }));
    await call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "tenant-x", runId: "x-run", idempotencyKey: "start-x-run" }));
    const limited = createClient(L.LedgerServiceClient, platform.ledger.address, { credentials: await platform.issuer!.token("tenant-z-app", ["meter"], { accounts: ["tenant-z"] }) });
    try {
      const other = await call(limited, limited.endRun, { accountId: "tenant-x", runId: "x-run", state: L.RunEndState.RUN_END_STATE_CANCELLED, idempotencyKey: "z-ends-x" }).catch((e: unknown) => e);
      expect(errorDetails(other)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_NOT_PERMITTED" });
      const unnamed = await call(limited, limited.endRun, L.EndRunRequest.fromPartial({ runId: "x-run", state: L.RunEndState.RUN_END_STATE_CANCELLED, idempotencyKey: "z-ends-any" })).catch((e: unknown) => e);
      expect(errorDetails(unnamed)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_NOT_PERMITTED" });
      const viaOwn = await call(limited, limited.endRun, { accountId: "tenant-z", runId: "x-run", state: L.RunEndState.RUN_END_STATE_CANCELLED, idempotencyKey: "z-ends-x-own" }).catch((e: unknown) => e);
      expect(errorDetails(viaOwn)).toMatchObject({ code: status.NOT_FOUND });
      expect(await state("tenant-x", "x-run")).toBe("running");
      await call(limited, limited.endRun, { accountId: "tenant-z", runId: "z-run", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-z" });
      expect(await state("tenant-z", "z-run")).toBe("finished");
    } finally {
      limited.close();
    }
    await call(ledger, ledger.endRun, { accountId: "tenant-x", runId: "x-run", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-x-run" });
  });
});
