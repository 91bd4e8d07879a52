/**
 * Seed 001's limits per kind of work, end to end over gRPC with auth on, from
 * its catalogue (catalogues/enterprise-agent-builder.yaml, plan
 * enterprise-standard: credits low-credit limit 10, negative limit 50;
 * guardrail 10 / 20; custom script 0 / 10, drafts at zero; model hosting 25 / 50).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { TollgateClient, usage } from "@tollgate/client";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { loadCatalogue, readCatalogue } from "../scripts/catalogue.js";
import { CREDIT, readEvents } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { startSmtpSink } from "./sinks.js";

const L = ledgerV1;
const K = commonV1.WorkKind;
const D = ledgerV1.DenialReason;

let db: TestDatabase;
let platform: Platform;
let sql: pg.Client;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;

// Hardware that costs 100 credits an hour (50 for the guardrail's CPUs), so an aged hour drains a known amount.
const guardrailCpu = (): pricingV1.Usage => ({ kind: { $case: "cpuTime", cpuTime: { cpuType: "x86-standard", cores: "100", seconds: "0" } } }); // 0.5 cr/core-hour
const scriptProfile = (): pricingV1.Usage => ({ kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: "script-large", seconds: "0" } } }); // 1 cr/hour
const gpu = (): pricingV1.Usage => ({ kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } }); // 4 cr/replica-hour
const reply = (): pricingV1.Usage => ({ kind: { $case: "modelReply", modelReply: { model: "mistral-7b-instruct", replies: "1" } } }); // 0.01 cr

const HARDWARE: Record<string, { hardware: () => pricingV1.Usage; replicas: number }> = {
  guardrail: { hardware: guardrailCpu, replicas: 1 },
  script: { hardware: scriptProfile, replicas: 100 },
  hosting: { hardware: gpu, replicas: 25 },
};
const KINDS = { guardrail: K.WORK_KIND_GUARDRAIL, script: K.WORK_KIND_CUSTOM_SCRIPT, hosting: K.WORK_KIND_MODEL_HOSTING };
type Kind = keyof typeof KINDS;

async function account(accountId: string): Promise<void> {
  const { entitlements } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId, name: accountId, planId: "enterprise-standard", seats: 3, adminEmails: [`admin@${accountId}.example`],
  }));
}

/** Sets the account's available credits (balance − held) to `credits` with a support adjustment of its monthly pool. */
async function setAvailable(accountId: string, credits: number, key: string): Promise<void> {
  const { ledger } = platform.clients;
  const balance = await call(ledger, ledger.getBalance, { accountId });
  const unit = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
  const pool = balance.pools.find((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_MONTHLY)!;
  const delta = BigInt(credits) * BigInt(CREDIT) - BigInt(unit.availableMicros);
  if (delta === 0n) return;
  await call(ledger, ledger.adjust, { accountId, poolId: pool.poolId, amountMicros: delta.toString(), reason: "test: set the available balance", actor: "support", idempotencyKey: key });
}

let attempt = 0;
const deploy = (accountId: string, kind: Kind, deploymentId: string, endpoint = "") =>
  call(platform.clients.ledger, platform.clients.ledger.deploy, L.DeployRequest.fromPartial({
    accountId, deploymentId, hardware: HARDWARE[kind]!.hardware(), replicas: HARDWARE[kind]!.replicas, idempotencyKey: `deploy-${deploymentId}-${++attempt}`, endpoint, workKind: KINDS[kind],
  }));

/** Puts a deployment's last charge `seconds` before now, then meters it (a scale to the same replicas). */
async function runFor(deploymentId: string, seconds: number, key: string) {
  await sql.query(`update ledger.metered_work set charged_until = date_trunc('milliseconds', clock_timestamp()) - make_interval(secs => $2) where work_id = $1`, [deploymentId, seconds]);
  const work = await sql.query<{ replicas: number; account_id: string }>(`select replicas, account_id from ledger.metered_work where work_id = $1`, [deploymentId]);
  await call(platform.clients.ledger, platform.clients.ledger.scale, { accountId: work.rows[0]!.account_id, deploymentId, replicas: work.rows[0]!.replicas, idempotencyKey: key });
}

const stateOf = async (deploymentId: string) =>
  (await sql.query<{ state: string }>(`select state from ledger.metered_work where work_id = $1`, [deploymentId])).rows[0]!.state;

const available = async (accountId: string) => {
  const balance = await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId });
  return Number(BigInt(balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!.availableMicros)) / CREDIT;
};

async function eventsOf(accountId: string) {
  await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId }); // sequences what is pending
  const total = Number((await sql.query<{ n: string }>(`select count(*)::text as n from ledger.outbox`)).rows[0]!.n);
  return (await readEvents(platform, 0, total)).filter((e) => e.accountId === accountId);
}

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { meterIntervalMs: 0, smtpUrl: smtp.url });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const file = join(import.meta.dirname, "../catalogues/enterprise-agent-builder.yaml");
  await loadCatalogue(file, platform.clients, "test");
  // Seed 001 does not price an agent run's time: a later version of its table adds a rate for it, so StartRun can be shown too.
  const { pricing } = platform.clients;
  const table = readCatalogue(file).rateTables[0] as { tableId: string; rates: Record<string, unknown>[] };
  await call(pricing, pricing.publishRateTable, {
    tableId: table.tableId, effectiveFrom: new Date(Date.now() - 1_000), actor: "test", reason: "agent-run time", idempotencyKey: "",
    rates: [...table.rates.map((rate) => pricingV1.Rate.fromJSON(rate)), { bucket: commonV1.Bucket.BUCKET_PLATFORM, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "activeMinute", activeMinute: { microsPerMinute: String(CREDIT / 100) } } }],
  });
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await smtp?.stop();
  await db?.drop();
});

describe("seed 001: new work per kind at the low-credit limit and at zero", () => {
  // [available credits, guardrail, custom script, model hosting]: allowed, or the denial (and drafts only).
  const matrix: [number, string, string, string][] = [
    [30, "allowed", "allowed", "allowed"],
    [15, "allowed", "allowed", "BELOW_LOW_CREDIT_LIMIT"], // below hosting's 25
    [5, "BELOW_LOW_CREDIT_LIMIT", "allowed", "BELOW_LOW_CREDIT_LIMIT"], // below the guardrail's 10
    [0, "BELOW_LOW_CREDIT_LIMIT", "INSUFFICIENT_CREDITS", "BELOW_LOW_CREDIT_LIMIT"], // the script: drafts only
  ];

  it.each(matrix)("with %s credits available: guardrail %s, custom script %s, model hosting %s", async (credits, guardrail, script, hosting) => {
    const accountId = `matrix-${credits}`;
    await account(accountId);
    await setAvailable(accountId, credits, "set");
    for (const [kind, expected] of [["guardrail", guardrail], ["script", script], ["hosting", hosting]] as const) {
      const answer = await deploy(accountId, kind, `${accountId}-${kind}`);
      if (expected === "allowed") {
        expect(answer, kind).toMatchObject({ allowed: true, draftsOnly: false });
        continue;
      }
      expect(answer, kind).toMatchObject({ allowed: false, reason: L.denialReasonFromJSON(`DENIAL_REASON_${expected}`) });
      // At zero a custom script imports as a draft only; the other kinds have no drafts.
      expect(answer.draftsOnly, kind).toBe(kind === "script" && credits <= 0);
    }
    // The client says so too: a script's authorization at zero offers a draft, and so does its DeniedError.
    const tollgate = new TollgateClient({ address: platform.ledger.address, credentials: platform.issuer!.credential("script-service", ["meter"]) });
    try {
      const authorized = await tollgate.authorize({ accountId, estimate: usage.replies("mistral-7b-instruct", 1), workKind: "custom_script" });
      expect(authorized).toMatchObject(script === "allowed" ? { allowed: true } : { allowed: false, draftsOnly: credits <= 0 });
      if (credits <= 0) {
        const opened = await tollgate.openMeter({ accountId, workKey: `${accountId}-draft`, estimate: usage.replies("mistral-7b-instruct", 1), workKind: "custom_script" }).catch((error: unknown) => error);
        expect(opened).toMatchObject({ kind: "denied", reason: "INSUFFICIENT_CREDITS", draftsOnly: true });
      }
    } finally {
      tollgate.close();
    }
  });

  it("names the kind's limit in a denial, and applies it to Authorize of that kind too", async () => {
    await account("kinds-co");
    await setAvailable("kinds-co", 5, "set");
    const { ledger } = platform.clients;
    const refused = await deploy("kinds-co", "hosting", "kinds-gpu");
    expect(refused.message).toBe("the deployment (model hosting) needs at least 25 credits available (the low-credit limit is 25 credits); 5 credits available");

    const authorize = (workKind: commonV1.WorkKind, key: string) =>
      call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId: "kinds-co", estimate: reply(), idempotencyKey: key, ttlMs: "60000", workKind }));
    expect(await authorize(K.WORK_KIND_GUARDRAIL, "a-guardrail")).toMatchObject({ allowed: false, reason: D.DENIAL_REASON_BELOW_LOW_CREDIT_LIMIT });
    // A model reply has no limits of its own: the unit's apply to a hold (its estimate must fit).
    expect(await authorize(K.WORK_KIND_MODEL_REPLY, "a-reply")).toMatchObject({ allowed: true });

    const run = (workKind: commonV1.WorkKind, runId: string) =>
      call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId: "kinds-co", runId, idempotencyKey: runId, workKind }));
    // A run is platform time, which seed 001's plans do not meter (metered_buckets: ai, compute, tool runs): it starts
    // unmetered whatever its kind, where the kind's limit would refuse metered work.
    expect(await run(K.WORK_KIND_MODEL_HOSTING, "run-hosting")).toMatchObject({ allowed: true, metered: false });
    expect(await run(K.WORK_KIND_AGENT_RUN, "run-agent")).toMatchObject({ allowed: true, metered: false });
  });
});

describe("seed 001: running work per kind at the negative limit", () => {
  it("keeps every kind running past the low-credit limit into negative credits, and stops each at its own negative limit with its own message", async () => {
    await account("running-co");
    await setAvailable("running-co", 30, "set");
    expect((await deploy("running-co", "guardrail", "guard-1")).allowed).toBe(true);
    expect((await deploy("running-co", "script", "script-1", "https://scripts.running-co.example/etl")).allowed).toBe(true);
    expect((await deploy("running-co", "hosting", "gpu-1", "https://models.running-co.example/llama")).allowed).toBe(true);

    // 45 credits of guardrail time: the account is at −15, past every low-credit limit; the guardrail (−20) runs on.
    await runFor("guard-1", 3240, "tick-1");
    expect(await available("running-co")).toBe(-15);
    expect(await stateOf("guard-1")).toBe("running");
    // The custom script's own limit is −10: its next charge stops it (the guardrail's limit is not its).
    await runFor("script-1", 36, "tick-2"); // 1 credit
    expect(await stateOf("script-1")).toBe("stopped");
    expect(await stateOf("guard-1")).toBe("running");
    // 10 more credits of guardrail time: −26, past the guardrail's −20.
    await runFor("guard-1", 720, "tick-3");
    expect(await stateOf("guard-1")).toBe("stopped");
    // Model hosting may run down to the unit's −50.
    await runFor("gpu-1", 72, "tick-4"); // 2 credits
    expect(await available("running-co")).toBe(-28);
    expect(await stateOf("gpu-1")).toBe("running");

    const events = await eventsOf("running-co");
    const stopped = events.filter((e) => e.kind?.$case === "workStopped").map((e) => (e.kind?.$case === "workStopped" ? e.kind.workStopped : undefined)!);
    expect(stopped.map((s) => [s.deploymentId, s.workKind])).toEqual([["script-1", K.WORK_KIND_CUSTOM_SCRIPT], ["guard-1", K.WORK_KIND_GUARDRAIL]]);
    expect(stopped[1]!.message).toBe("You\u2019ve used all your available credits. Please add more credits to your account to continue.");
    expect(stopped[0]!.message).toMatch(/^The custom script deployment failed/);
    const deployed = events.filter((e) => e.kind?.$case === "deploymentChanged").map((e) => (e.kind?.$case === "deploymentChanged" ? e.kind.deploymentChanged : undefined)!);
    expect(deployed.map((d) => [d.deploymentId, d.workKind])).toEqual([
      ["guard-1", K.WORK_KIND_GUARDRAIL], ["script-1", K.WORK_KIND_CUSTOM_SCRIPT], ["gpu-1", K.WORK_KIND_MODEL_HOSTING],
    ]);

    // The kind's charges are attributed to it.
    const top = await call(platform.clients.ledger, platform.clients.ledger.getTopUsage, { accountId: "running-co", dimension: "work_kind", since: undefined, page: undefined, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(Object.fromEntries(top.rows.map((r) => [r.key, Number(r.amountMicros) / CREDIT]))).toEqual({ guardrail: 55, custom_script: 1, model_hosting: 2 });

    // The admins' emails name the kind; the guardrail's and the script's differ; the script's deployment email carries its endpoint.
    const expected = [
      "Guardrail guard-1 is deployed", "Custom script script-1 is deployed", "Model deployment gpu-1 is live",
      "Custom script script-1 failed: deployment stopped at the negative credit limit", "Guardrail guard-1 was stopped: negative credit limit reached",
    ];
    const mail = await eventually(async () => {
      const mine = smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((to) => to?.text.includes("admin@running-co.example")));
      return expected.every((subject) => mine.some((m) => m.subject === subject)) ? mine : undefined;
    }, 15_000, "the work emails to running-co's admins");
    const scriptDeployed = mail.find((m) => m.subject === "Custom script script-1 is deployed")!;
    expect(scriptDeployed.text).toContain("Endpoint: https://scripts.running-co.example/etl");
    const guardStopped = mail.find((m) => m.subject?.startsWith("Guardrail guard-1 was stopped"))!;
    const scriptStopped = mail.find((m) => m.subject?.startsWith("Custom script script-1 failed"))!;
    expect(guardStopped.text).not.toBe(scriptStopped.text);
  });
});

describe("one-shot usage of a kind", () => {
  it("says stop to a one-shot Charge of a kind at the kind's negative limit, where a Charge of no kind goes on to the unit's, and counts it by kind", async () => {
    await account("oneshot-co");
    await setAvailable("oneshot-co", 0, "set");
    const { ledger } = platform.clients;
    const charge = (key: string, replies: number, workKind: commonV1.WorkKind) =>
      call(ledger, ledger.charge, L.ChargeRequest.fromPartial({
        accountId: "oneshot-co", usage: { kind: { $case: "modelReply", modelReply: { model: "mistral-7b-instruct", replies: String(replies) } } }, final: true, idempotencyKey: key, workKind,
      }));
    // 19.99 credits of guardrail replies: −19.99, above the guardrail's −20.
    expect(await charge("g1", 1999, K.WORK_KIND_GUARDRAIL)).toMatchObject({ chargedMicros: String(19.99 * CREDIT), proceed: true });
    // One more reply of the guardrail takes the unit to −20: stop.
    expect(await charge("g2", 1, K.WORK_KIND_GUARDRAIL)).toMatchObject({ chargedMicros: String(0.01 * CREDIT), proceed: false });
    // A reply of no kind may go on to the unit's −50.
    expect(await charge("n1", 1, K.WORK_KIND_UNSPECIFIED)).toMatchObject({ proceed: true });
    // The same key with another kind is another request.
    await expect(charge("g2", 1, K.WORK_KIND_CUSTOM_SCRIPT)).rejects.toMatchObject({ code: 6 });
    const top = await call(ledger, ledger.getTopUsage, { accountId: "oneshot-co", dimension: "work_kind", since: undefined, page: undefined, unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(top.rows.filter((r) => r.key).map((r) => [r.key, Number(r.amountMicros) / CREDIT])).toEqual([["guardrail", 20]]);
  });
});

describe("a streamed response of a kind (the SDK's meter)", () => {
  it("stops a guardrail's stream at the guardrail's negative limit, not the unit's, and counts every increment by kind", async () => {
    await account("stream-co");
    await setAvailable("stream-co", 15, "set");
    const tollgate = new TollgateClient({ address: platform.ledger.address, credentials: platform.issuer!.credential("guard-service", ["meter"]) });
    try {
      // One credit per increment (100 replies at 0.01) on a 5-credit hold of the guardrail kind.
      const meter = await tollgate.openMeter({ accountId: "stream-co", workKey: "guard-1", estimate: usage.replies("mistral-7b-instruct", 500), workKind: "guardrail" });
      let sent = 0;
      while (!meter.signal.aborted && sent < 100) {
        await meter.report(usage.replies("mistral-7b-instruct", 100));
        sent++;
      }
      // From 15 to the guardrail's −20: the 35th increment reaches it and says stop (a stream of no kind would go on to −50).
      expect(sent).toBe(35);
      expect(await meter.stopped).toMatchObject({ reason: "LIMIT_REACHED" });
      await meter.close();
      const { ledger } = platform.clients;
      const credits = (await call(ledger, ledger.getBalance, { accountId: "stream-co" })).units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
      expect(Number(credits.availableMicros) / CREDIT).toBe(-20);
      const top = await call(ledger, ledger.getTopUsage, { accountId: "stream-co", dimension: "work_kind", since: undefined, page: undefined, unit: commonV1.Unit.UNIT_UNSPECIFIED });
      expect(top.rows.filter((r) => r.key).map((r) => [r.key, Number(r.amountMicros) / CREDIT])).toEqual([["guardrail", 35]]);
    } finally {
      tollgate.close();
    }
  });
});

describe("plans and overrides per kind of work", () => {
  it("refuses a kind's negative limit beyond its unit's, naming the field", async () => {
    const { entitlements } = platform.clients;
    const refused = await call(entitlements, entitlements.publishPlan, {
      actor: "test", reason: "", plan: entitlementsV1.Plan.fromPartial({
        planId: "too-deep", name: "too deep", rateTableId: "enterprise-rates",
        limits: [
          { unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros: "0", negativeLimitMicros: String(10 * CREDIT), workKind: K.WORK_KIND_UNSPECIFIED, draftsAtZero: false, stopMessage: "" },
          { unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros: "0", negativeLimitMicros: String(11 * CREDIT), workKind: K.WORK_KIND_GUARDRAIL, draftsAtZero: false, stopMessage: "" },
        ],
      }),
    }).catch((error: unknown) => error);
    expect(String(refused)).toContain("plan.limits[1].negative_limit_micros");
  });

  it("lets support override one kind's limits for an account, and the ledger applies them", async () => {
    await account("override-co");
    await setAvailable("override-co", 15, "set");
    expect((await deploy("override-co", "hosting", "before")).reason).toBe(D.DENIAL_REASON_BELOW_LOW_CREDIT_LIMIT);
    const { entitlements } = platform.clients;
    const changed = await call(entitlements, entitlements.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({
      accountId: "override-co", reason: "customer asked to host below 25 credits", idempotencyKey: "o1",
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros: String(10 * CREDIT), negativeLimitMicros: String(30 * CREDIT), workKind: K.WORK_KIND_MODEL_HOSTING, draftsAtZero: false, stopMessage: "" }],
    }));
    expect(changed.account!.limitOverrides).toEqual([expect.objectContaining({ workKind: K.WORK_KIND_MODEL_HOSTING, lowCreditLimitMicros: String(10 * CREDIT) })]);
    // A kind's negative limit may not exceed its unit's (the plan's 50 credits here).
    const tooDeep = await call(entitlements, entitlements.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({
      accountId: "override-co", reason: "typo", idempotencyKey: "o2",
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros: "0", negativeLimitMicros: String(60 * CREDIT), workKind: K.WORK_KIND_GUARDRAIL, draftsAtZero: false, stopMessage: "" }],
    })).catch((error: unknown) => error);
    expect(String(tooDeep)).toContain("limits[0].negative_limit_micros");
    await eventually(async () => ((await deploy("override-co", "hosting", "after")).allowed ? true : undefined), 10_000, "the override reaching the ledger");
  });
});
