import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CatalogueError, loadCatalogue, readCatalogue } from "../scripts/catalogue.js";
import { startPlatform, type Platform } from "./platform.js";

const dir = new URL("../catalogues/", import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

/** One usage that the given rate prices. */
function usageFor(rate: pricingV1.Rate): pricingV1.Usage {
  const k = rate.kind!;
  switch (k.$case) {
    case "modelReply":
      return { kind: { $case: "modelReply", modelReply: { model: k.modelReply.model, replies: "1" } } };
    case "modelToken":
      return { kind: { $case: "modelTokens", modelTokens: { model: k.modelToken.model, inputTokens: "1000", outputTokens: "500", cacheReadTokens: "2000", cacheWriteTokens: "100" } } };
    case "block": {
      const value = Object.keys(k.block.microsPerRunByValue)[0];
      return { kind: { $case: "blockRun", blockRun: { block: k.block.block, configuration: value ? { [k.block.configurationKey]: value } : {}, runs: "1" } } };
    }
    case "gpuHour":
      return { kind: { $case: "gpuTime", gpuTime: { gpuType: k.gpuHour.gpuType, replicas: "2", seconds: "3600" } } };
    case "cpuCoreHour":
      return { kind: { $case: "cpuTime", cpuTime: { cpuType: k.cpuCoreHour.cpuType, cores: "2", seconds: "1800" } } };
    case "hardwareProfileHour":
      return { kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: k.hardwareProfileHour.profile, seconds: "5400" } } };
    case "fineTuning":
      return { kind: { $case: "fineTuning", fineTuning: { trainingTokens: "2000000", sizeClass: k.fineTuning.sizeClass, epochs: "3", hardware: k.fineTuning.hardware } } };
    case "activeMinute":
      return { kind: { $case: "activeTime", activeTime: { seconds: "90" } } };
    case "toolRun":
      return { kind: { $case: "toolRun", toolRun: { tool: k.toolRun.tool || "any-tool", runs: "3" } } };
  }
}

describe("the demo catalogues", () => {
  it("has one catalogue per source document", () => {
    expect(files).toHaveLength(5);
  });

  it.each(files)("%s loads and quotes one usage of every rate it defines", async (file) => {
    const catalogue = await loadCatalogue(join(dir, file), platform.clients, "test");
    expect(catalogue.plans.length).toBeGreaterThan(0);
    const { pricing, entitlements } = platform.clients;
    for (const raw of catalogue.rateTables) {
      const tableId = (raw as { tableId: string }).tableId;
      const table = (await call(pricing, pricing.getRateTable, { tableId, version: "0", at: undefined, sequence: "0" })).table!;
      for (const rate of table.rates) {
        const quote = await call(pricing, pricing.quote, { tableId, usage: [usageFor(rate)], version: "0", at: undefined });
        expect(quote.lineItems.length, `${file} ${JSON.stringify(rate.kind)}`).toBeGreaterThan(0);
        for (const line of quote.lineItems) {
          expect(line.rateTableVersion).toBe(table.version);
          expect(BigInt(line.amountMicros) >= 0n).toBe(true);
          expect(line.unit).toBe(rate.unit);
        }
      }
    }
    for (const raw of catalogue.accounts) {
      const accountId = (raw as { accountId: string }).accountId;
      const { account } = await call(entitlements, entitlements.getAccount, { accountId });
      expect(account?.accountId).toBe(accountId);
    }
  });

  it("rejects an invalid catalogue naming the file and the bad field", async () => {
    const bad = join(mkdtempSync(join(tmpdir(), "catalogue-")), "bad.yaml");
    writeFileSync(bad, `name: bad
plans:
  - planId: bad-plan
    allotments: [{ unit: UNIT_CREDITS, amountMicros: "-5" }]
`);
    await expect(loadCatalogue(bad, platform.clients)).rejects.toThrow(CatalogueError);
    await expect(loadCatalogue(bad, platform.clients)).rejects.toThrow(`${bad}: plans[0].allotments[0].amountMicros`);

    writeFileSync(bad, `name: bad\nrateTables:\n  - tableId: bad\n    rates: [{ bucket: BUCKET_AI, unit: UNIT_CREDITS, perFortnight: {} }]\n`);
    await expect(loadCatalogue(bad, platform.clients)).rejects.toThrow(`${bad}: rateTables[0].rates[0]: a rate kind is required`);

    // Read strictly: a misspelt key, or an enum value that does not exist, is named instead of dropped.
    writeFileSync(bad, `name: bad\nplans:\n  - planId: typo-plan\n    allotment: [{ unit: UNIT_CREDITS, amountMicros: "5" }]\n`);
    await expect(loadCatalogue(bad, platform.clients)).rejects.toThrow(`${bad}: plans[0].allotment: is not a known field`);
    writeFileSync(bad, `name: bad\nrateTables:\n  - tableId: bad\n    rates: [{ bucket: BUCKET_GPU, unit: UNIT_CREDITS, toolRun: { tool: t, microsPerRun: "1" } }]\n`);
    await expect(loadCatalogue(bad, platform.clients)).rejects.toThrow(`${bad}: rateTables[0].rates[0].bucket: must be one of BUCKET_AI, BUCKET_COMPUTE, BUCKET_PLATFORM, BUCKET_TOOL_RUNS, not "BUCKET_GPU"`);

    writeFileSync(bad, `name: bad\nplans: {}\n`);
    expect(() => readCatalogue(bad)).toThrow("plans must be a list");
  });
});

const E = entitlementsV1;
const { RunLocation: L, InferenceSource: I, ComputeSource: C } = E;
const B = commonV1.Bucket;

/**
 * Seed 000's eligibility matrix, one row per case the document states:
 * [case, plan, seats, where the run is, who pays for inference, where compute runs] → expected.
 */
const matrix: [string, string, number, entitlementsV1.RunLocation, entitlementsV1.InferenceSource, entitlementsV1.ComputeSource, { allowed: boolean; buckets?: commonV1.Bucket[]; metered?: boolean }][] = [
  ["cloud run on any plan uses platform credits (free, managed, hosted)", "terminal-free", 1, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_MANAGED, C.COMPUTE_SOURCE_HOSTED, { allowed: true, buckets: [B.BUCKET_AI, B.BUCKET_COMPUTE, B.BUCKET_PLATFORM], metered: true }],
  ["cloud run with self-hosted workers uses no compute credits", "terminal-max", 3, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_MANAGED, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_AI, B.BUCKET_PLATFORM], metered: true }],
  ["cloud run with BYOK uses no AI credits but platform credits", "terminal-build", 5, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_HOSTED, { allowed: true, buckets: [B.BUCKET_COMPUTE, B.BUCKET_PLATFORM], metered: true }],
  ["cloud run with BYOLLM on self-hosted workers uses platform credits only", "terminal-business", 50, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOLLM, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_PLATFORM], metered: true }],
  ["local run on Free with managed inference: AI credits, no platform credits", "terminal-free", 1, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_MANAGED, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_AI], metered: true }],
  ["local run on Build with BYOK: no platform credits, nothing to charge", "terminal-build", 3, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [], metered: false }],
  ["local run on Max with BYOK: no platform credits", "terminal-max", 10, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [], metered: false }],
  ["local run on Business with managed inference: no platform credits", "terminal-business", 50, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_MANAGED, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_AI], metered: true }],
  ["local run on Business with BYOK uses platform credits", "terminal-business", 50, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_PLATFORM], metered: true }],
  ["local run on Enterprise with BYOLLM (Bedrock/Vertex) uses platform credits", "terminal-enterprise", 300, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_BYOLLM, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: true, buckets: [B.BUCKET_PLATFORM], metered: true }],
  ["BYOK with 10 or fewer seats is allowed on any plan", "terminal-free", 10, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_HOSTED, { allowed: true, buckets: [B.BUCKET_COMPUTE, B.BUCKET_PLATFORM], metered: true }],
  ["BYOK with more than 10 seats is refused on Build", "terminal-build", 11, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_HOSTED, { allowed: false }],
  ["a custom endpoint with more than 10 seats is refused on Max, locally too", "terminal-max", 25, L.RUN_LOCATION_LOCAL, I.INFERENCE_SOURCE_CUSTOM_ENDPOINT, C.COMPUTE_SOURCE_SELF_HOSTED, { allowed: false }],
  ["BYOLLM with more than 10 seats is allowed on Business", "terminal-business", 500, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOLLM, C.COMPUTE_SOURCE_HOSTED, { allowed: true, buckets: [B.BUCKET_COMPUTE, B.BUCKET_PLATFORM], metered: true }],
  ["BYOK with more than 10 seats is allowed on Enterprise", "terminal-enterprise", 200, L.RUN_LOCATION_CLOUD, I.INFERENCE_SOURCE_BYOK, C.COMPUTE_SOURCE_HOSTED, { allowed: true, buckets: [B.BUCKET_COMPUTE, B.BUCKET_PLATFORM], metered: true }],
];

describe("seed 000's eligibility matrix, as data on the plans", () => {
  beforeAll(async () => {
    await loadCatalogue(join(dir, "agentic-terminal.yaml"), platform.clients, "test").catch(() => undefined);
  });

  it.each(matrix)("%s", async (_case, planId, seats, runLocation, inferenceSource, computeSource, expected) => {
    const { entitlements } = platform.clients;
    const accountId = `matrix-${planId}-${seats}`;
    await call(entitlements, entitlements.createAccount, E.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats }));
    const decision = await call(entitlements, entitlements.checkEligibility, { accountId, context: { runLocation, inferenceSource, computeSource } });
    expect(decision.allowed).toBe(expected.allowed);
    if (expected.buckets) expect([...decision.buckets].sort()).toEqual([...expected.buckets].sort());
    if (expected.metered !== undefined) expect(decision.metered).toBe(expected.metered);
    if (!expected.allowed) expect(decision.reason).toMatch(/10/);
  });

  it("treats a self-hosted installation as unmetered", async () => {
    const { entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, E.CreateAccountRequest.fromPartial({
      accountId: "matrix-self-hosted", name: "On-prem", planId: "terminal-build", seats: 80, deploymentMode: E.DeploymentMode.DEPLOYMENT_MODE_SELF_HOSTED,
    }));
    const decision = await call(entitlements, entitlements.checkEligibility, {
      accountId: "matrix-self-hosted",
      context: { runLocation: L.RUN_LOCATION_CLOUD, inferenceSource: I.INFERENCE_SOURCE_BYOK, computeSource: C.COMPUTE_SOURCE_SELF_HOSTED },
    });
    expect(decision).toMatchObject({ allowed: true, metered: false });
  });
});

describe("eligibility on the ledger's hot path", () => {
  const tokens = (model: string): pricingV1.Usage => ({
    kind: { $case: "modelTokens", modelTokens: { model, inputTokens: "20000", outputTokens: "2000", cacheReadTokens: "0", cacheWriteTokens: "0" } },
  });

  it("denies a run the plan does not allow with NOT_ELIGIBLE and the rule's reason", async () => {
    const { ledger, pricing } = platform.clients;
    const table = (await call(pricing, pricing.getRateTable, { tableId: "terminal-rates", version: "0", at: undefined, sequence: "0" })).table!;
    const model = table.rates.find((r) => r.kind?.$case === "modelToken")!.kind!;
    const name = model.$case === "modelToken" ? model.modelToken.model : "";
    const denied = await call(ledger, ledger.authorize, {
      accountId: "demo-terminal", // 25 seats on Build
      estimate: tokens(name),
      attribution: undefined,
      idempotencyKey: "byok-25-seats",
      ttlMs: "60000",
      context: { runLocation: L.RUN_LOCATION_CLOUD, inferenceSource: I.INFERENCE_SOURCE_BYOK, computeSource: C.COMPUTE_SOURCE_HOSTED },
      workKind: commonV1.WorkKind.WORK_KIND_MODEL_REPLY,
    });
    expect(denied).toMatchObject({ allowed: false, reason: ledgerV1.DenialReason.DENIAL_REASON_NOT_ELIGIBLE, holdId: "" });
    expect(denied.message).toMatch(/10/);

    const own = await call(ledger, ledger.authorize, {
      accountId: "demo-terminal-free",
      estimate: tokens(name),
      attribution: undefined,
      idempotencyKey: "local-byok",
      ttlMs: "60000",
      context: { runLocation: L.RUN_LOCATION_LOCAL, inferenceSource: I.INFERENCE_SOURCE_BYOK, computeSource: C.COMPUTE_SOURCE_SELF_HOSTED },
      workKind: commonV1.WorkKind.WORK_KIND_MODEL_REPLY,
    });
    expect(own).toMatchObject({ allowed: true, metered: false, holdId: "", amountMicros: "0" });

    const recorded = await call(ledger, ledger.charge, {
      accountId: "demo-terminal-free",
      holdId: "",
      usage: tokens(name),
      final: true,
      idempotencyKey: "local-byok-charge",
      attribution: commonV1.Attribution.fromPartial({ agentId: "own-key-agent" }),
      context: { runLocation: L.RUN_LOCATION_LOCAL, inferenceSource: I.INFERENCE_SOURCE_BYOK, computeSource: C.COMPUTE_SOURCE_SELF_HOSTED },
      occurredAt: undefined,
      workKind: commonV1.WorkKind.WORK_KIND_MODEL_REPLY,
    });
    expect(recorded.chargedMicros).toBe("0");
    const entries = await call(ledger, ledger.listEntries, { accountId: "demo-terminal-free", holdId: "", page: undefined, kind: 2, attribution: {}, recordedFrom: undefined, recordedBefore: undefined });
    expect(entries.entries[0]).toMatchObject({ amountMicros: "0", attribution: expect.objectContaining({ agentId: "own-key-agent" }) });
  });
});

/** Puts a run's or deployment's last charge `seconds` before now: that much uncharged time has passed, without waiting for it. */
async function age(workId: string, seconds: number) {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`update ledger.metered_work set charged_until = date_trunc('milliseconds', clock_timestamp()) - make_interval(secs => $2) where work_id = $1`, [workId, seconds]);
  } finally {
    await client.end();
  }
}

describe("seed 000's matrix for runs: StartRun admits and meters as Authorize does", () => {
  beforeAll(async () => {
    await loadCatalogue(join(dir, "agentic-terminal.yaml"), platform.clients, "test").catch(() => undefined);
  });

  it.each(matrix.map((row, i) => [i, ...row] as const))("run %i: %s", async (i, _case, planId, seats, runLocation, inferenceSource, computeSource, expected) => {
    const { entitlements, ledger } = platform.clients;
    const accountId = `run-matrix-${i}`;
    await call(entitlements, entitlements.createAccount, E.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats }));
    const context = { runLocation, inferenceSource, computeSource };
    const started = await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId, runId: accountId, idempotencyKey: "start", context }));
    expect(started.allowed).toBe(expected.allowed);
    if (!expected.allowed) {
      const decision = await call(entitlements, entitlements.checkEligibility, { accountId, context });
      expect(started).toMatchObject({ reason: ledgerV1.DenialReason.DENIAL_REASON_NOT_ELIGIBLE, message: decision.message });
      return;
    }
    // A run's active time is platform credits: charged only where the rule meters the platform bucket.
    expect(started.metered).toBe(expected.metered === true && (expected.buckets ?? []).includes(B.BUCKET_PLATFORM));
  });

  it("never charges a free-tier local run platform credits; a cloud run pays for its active time", async () => {
    const { ledger } = platform.clients;
    const local = { runLocation: L.RUN_LOCATION_LOCAL, inferenceSource: I.INFERENCE_SOURCE_MANAGED, computeSource: C.COMPUTE_SOURCE_SELF_HOSTED };
    const cloud = { runLocation: L.RUN_LOCATION_CLOUD, inferenceSource: I.INFERENCE_SOURCE_MANAGED, computeSource: C.COMPUTE_SOURCE_HOSTED };
    const before = await call(ledger, ledger.getBalance, { accountId: "demo-terminal-free" });
    const localRun = await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "demo-terminal-free", runId: "free-local", idempotencyKey: "free-local", context: local }));
    expect(localRun).toMatchObject({ allowed: true, metered: false });
    const cloudRun = await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "demo-terminal-free", runId: "free-cloud", idempotencyKey: "free-cloud", context: cloud }));
    expect(cloudRun).toMatchObject({ allowed: true, metered: true });
    // Compute on the customer's machine is no compute credits either (a local sandbox "deployment").
    const sandbox: pricingV1.Usage = { kind: { $case: "cpuTime", cpuTime: { cpuType: "cloud-sandbox", cores: "2", seconds: "0" } } };
    const localSandbox = await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({ accountId: "demo-terminal-free", deploymentId: "free-local-sandbox", hardware: sandbox, replicas: 1, idempotencyKey: "free-local-sandbox", context: local }));
    expect(localSandbox).toMatchObject({ allowed: true, metered: false });

    for (const id of ["free-local", "free-cloud", "free-local-sandbox"]) await age(id, 60);
    const localEnd = await call(ledger, ledger.endRun, { accountId: "demo-terminal-free", runId: "free-local", state: ledgerV1.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-local" });
    const cloudEnd = await call(ledger, ledger.endRun, { accountId: "demo-terminal-free", runId: "free-cloud", state: ledgerV1.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-cloud" });
    const sandboxEnd = await call(ledger, ledger.undeploy, { accountId: "demo-terminal-free", deploymentId: "free-local-sandbox", idempotencyKey: "undeploy-local" });
    expect(localEnd.totalChargedMicros).toBe("0");
    expect(Number(localEnd.activeSeconds)).toBeGreaterThanOrEqual(60); // the time is recorded, never charged
    expect(sandboxEnd.totalChargedMicros).toBe("0");
    expect(BigInt(cloudEnd.totalChargedMicros)).toBeGreaterThanOrEqual(1_000_000n); // a credit per active minute
    const after = await call(ledger, ledger.getBalance, { accountId: "demo-terminal-free" });
    expect(BigInt(before.units[0]!.balanceMicros) - BigInt(after.units[0]!.balanceMicros)).toBe(BigInt(cloudEnd.totalChargedMicros));
  });
});

describe("own-key inference: no credits for the model call by default", () => {
  const byok = { runLocation: L.RUN_LOCATION_CLOUD, inferenceSource: I.INFERENCE_SOURCE_BYOK, computeSource: C.COMPUTE_SOURCE_HOSTED };
  const tokens = (model: string): pricingV1.Usage => ({
    kind: { $case: "modelTokens", modelTokens: { model, inputTokens: "100000", outputTokens: "20000", cacheReadTokens: "0", cacheWriteTokens: "0" } },
  });
  const reply = (model: string): pricingV1.Usage => ({ kind: { $case: "modelReply", modelReply: { model, replies: "1" } } });

  beforeAll(async () => {
    for (const file of ["support-agent-builder.yaml", "workspace-coding-agent.yaml"]) {
      await loadCatalogue(join(dir, file), platform.clients, "test").catch(() => undefined);
    }
  });

  it("seed 004: an own-key reply is allowed, unmetered and journaled at zero on a plan without rules; a managed one costs its model's credits", async () => {
    const { ledger, entitlements } = platform.clients;
    const own = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "demo-support", estimate: reply("gpt-4o"), idempotencyKey: "byok-reply", ttlMs: "60000", context: byok }));
    expect(own).toMatchObject({ allowed: true, metered: false, amountMicros: "0", holdId: "" });
    const charged = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "demo-support", usage: reply("gpt-4o"), final: true, idempotencyKey: "byok-charge", context: byok }));
    expect(charged.chargedMicros).toBe("0");
    const managed = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "demo-support", estimate: reply("gpt-4o"), idempotencyKey: "managed-reply", ttlMs: "60000" }));
    expect(managed).toMatchObject({ allowed: true, metered: true, amountMicros: "5000000" });
    const decision = await call(entitlements, entitlements.checkEligibility, { accountId: "demo-support", context: byok });
    expect(decision).toMatchObject({ allowed: true, metered: true });
    expect(decision.buckets).not.toContain(B.BUCKET_AI);
  });

  it("seed 002: a credits account draws nothing for own-key tokens; a BYOM account's provider cost still goes to its USD spend cap", async () => {
    const { ledger } = platform.clients;
    const credits = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "demo-workspace", estimate: tokens("claude-sonnet-4.6"), idempotencyKey: "byok-tokens", ttlMs: "60000", context: byok }));
    expect(credits).toMatchObject({ allowed: true, metered: false, amountMicros: "0" });
    const byom = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "demo-workspace-byom", usage: tokens("claude-sonnet-4.6"), final: true, idempotencyKey: "byom-tokens", context: byok }));
    expect(byom.chargedMicros).toBe("600000"); // 100k in at $3/M + 20k out at $15/M
    const balance = await call(ledger, ledger.getBalance, { accountId: "demo-workspace-byom" });
    expect(balance.units.find((u) => u.unit === commonV1.Unit.UNIT_USD)?.usedMicros).toBe("600000");
  });
});
