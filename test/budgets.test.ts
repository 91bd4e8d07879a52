import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { TollgateClient } from "@tollgate/client";
import { call, createClient } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { meterStream } from "./meter-stream.js";
import { startPlatform, type Platform } from "./platform.js";
import { startWebhookReceiver } from "./sinks.js";

const L = ledgerV1;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { retryBaseMs: 50, maxAttempts: 5 });
  await seedStarter(platform, "budget-hard");
  for (const accountId of ["budget-soft", "budget-meter"]) {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId, name: accountId, planId: "starter", seats: 1, adminEmails: [`admin@${accountId}.example`],
    }));
  }
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

const setBudget = (accountId: string, fields: Partial<ledgerV1.SetBudgetRequest>) =>
  call(platform.clients.ledger, platform.clients.ledger.setBudget, L.SetBudgetRequest.fromPartial({
    accountId, unit: commonV1.Unit.UNIT_CREDITS, scope: L.BudgetScope.BUDGET_SCOPE_AGENT, scopeId: "agent-1", mode: L.BudgetMode.BUDGET_MODE_HARD,
    reason: "cap the agent", idempotencyKey: "", ...fields,
  }));

const budgetsOf = async (accountId: string) => (await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId })).budgets;

const agent = (agentId: string) => commonV1.Attribution.fromPartial({ agentId, model: "gpt-4o" });

describe("budgets", () => {
  it("200 concurrent charges and authorizes on one hard budget never pass it; GetBalance shows used and reserved against the limit", async () => {
    const accountId = "budget-hard";
    const { ledger } = platform.clients;
    // 50 credits for agent-1: ten 5-credit replies, of the account's 100.
    const set = await setBudget(accountId, { limitMicros: String(50 * CREDIT), idempotencyKey: "hard-1" });
    expect(set.budget).toMatchObject({ budgetId: "credits/agent/agent-1", limitMicros: String(50 * CREDIT), usedMicros: "0", mode: L.BudgetMode.BUDGET_MODE_HARD });

    const charges = Array.from({ length: 100 }, (_, i) =>
      call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: `c${i}`, attribution: agent("agent-1") })),
    );
    const authorizes = Array.from({ length: 100 }, (_, i) =>
      call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId, estimate: replies("gpt-4o", 1), idempotencyKey: `a${i}`, ttlMs: "600000", attribution: agent("agent-1") })),
    );
    const [charged, authorized] = await Promise.all([Promise.all(charges), Promise.all(authorizes)]);

    const chargedMicros = charged.reduce((sum, c) => sum + BigInt(c.chargedMicros), 0n);
    const allowed = authorized.filter((a) => a.allowed);
    const heldMicros = allowed.reduce((sum, a) => sum + BigInt(a.amountMicros), 0n);
    // Never passed, and used up: every 5-credit step that fitted was taken.
    expect(chargedMicros + heldMicros).toBe(BigInt(50 * CREDIT));
    expect(authorized.filter((a) => !a.allowed).every((a) => a.reason === L.DenialReason.DENIAL_REASON_BUDGET_EXCEEDED)).toBe(true);
    expect(authorized.find((a) => !a.allowed)?.message).toContain("agent agent-1 budget");
    const short = charged.filter((c) => BigInt(c.uncollectedMicros) > 0n);
    expect(short.length).toBeGreaterThan(0);
    expect(short.every((c) => c.budgetId === "credits/agent/agent-1" && !c.proceed)).toBe(true);

    expect(await budgetsOf(accountId)).toEqual([
      expect.objectContaining({ budgetId: "credits/agent/agent-1", scopeId: "agent-1", limitMicros: String(50 * CREDIT), usedMicros: chargedMicros.toString(), reservedMicros: heldMicros.toString() }),
    ]);
    // The client names the budget that stops a charge.
    const tollgate = new TollgateClient({ address: platform.ledger.address, credentials: platform.issuer!.credential("budget-service", ["meter"]) });
    try {
      expect(await tollgate.charge({ accountId, usage: replies("gpt-4o", 1), attribution: { agentId: "agent-1" } })).toMatchObject({ proceed: false, budgetId: "credits/agent/agent-1" });
    } finally {
      tollgate.close();
    }
    // Another agent is not covered by it.
    const other = await call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId, estimate: replies("gpt-4o", 2), idempotencyKey: "other", ttlMs: "60000", attribution: agent("agent-2") }));
    expect(other.allowed).toBe(true);
  });

  it("needs a reason and a scope id, and is for the support role", async () => {
    await expect(setBudget("budget-hard", { limitMicros: "1", reason: "", idempotencyKey: "no-reason" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("reason") });
    await expect(setBudget("budget-hard", { limitMicros: "1", scopeId: "", idempotencyKey: "no-scope" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("scope_id") });
    // A scope id is matched exactly against the charges' attribution: blank, or with spaces around it, it would cover nothing.
    for (const scopeId of ["   ", " w1", "w1\t"]) {
      await expect(setBudget("budget-hard", { limitMicros: "1", scopeId, idempotencyKey: `spaced-${scopeId.length}-${scopeId.trim()}` }), JSON.stringify(scopeId))
        .rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("scope_id") });
    }
    const reader = createClient(L.LedgerServiceClient, platform.ledger.address, platform.serviceCredentials("metering", ["meter"]));
    try {
      await expect(call(reader, reader.setBudget, L.SetBudgetRequest.fromPartial({ accountId: "budget-hard", scopeId: "x", reason: "r", idempotencyKey: "meter-role" }))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      reader.close();
    }
  });

  it("a soft budget never refuses, and its crossings reach the notifications consumer once each: a banner and a webhook", async () => {
    const accountId = "budget-soft";
    const hook = await startWebhookReceiver(SECRET);
    try {
      const { ledger, notifications } = platform.clients;
      await call(notifications, notifications.setPreferences, { updateFields: [], preferences: notificationsV1.Preferences.fromPartial({ accountId, webhooks: [{ url: hook.url, secret: SECRET }] }) });
      // 20 credits for workspace w1, warned at 80 % and 100 % (the soft defaults).
      await setBudget(accountId, { scope: L.BudgetScope.BUDGET_SCOPE_WORKSPACE, scopeId: "w1", mode: L.BudgetMode.BUDGET_MODE_SOFT, limitMicros: String(20 * CREDIT), idempotencyKey: "soft-1" });
      const spend = (key: string, count: number) =>
        call(ledger, ledger.charge, L.ChargeRequest.fromPartial({
          accountId, usage: replies("gpt-4o", count), final: true, idempotencyKey: key, attribution: commonV1.Attribution.fromPartial({ workspaceId: "w1", model: "gpt-4o" }),
        }));
      await spend("s1", 3); // 15 of 20: 75 %
      await Promise.all([spend("s2", 1), spend("s3", 1), spend("s4", 1)]); // 30 of 20: 80 % and 100 % crossed, once
      const last = await spend("s5", 2); // 40 of 20: soft, so charged in full
      expect(last).toMatchObject({ chargedMicros: String(10 * CREDIT), proceed: true, budgetId: "" });

      const webhooks = await eventually(async () => {
        const got = hook.received.filter((w) => w.type === "budget.threshold_crossed");
        return got.length >= 2 ? got : undefined;
      }, 8_000, "two budget webhooks");
      expect(webhooks.map((w) => w.data.threshold_percent).sort()).toEqual([100, 80]);
      expect(webhooks[0]!.data).toMatchObject({ budget_id: "credits/workspace/w1", scope: "workspace", scope_id: "w1", mode: "soft", limit_micros: String(20 * CREDIT) });
      const banners = (await call(notifications, notifications.listBanners, { accountId, includeDismissed: false })).banners.filter((b) => b.rule.startsWith("budget_"));
      expect(banners.map((b) => b.rule).sort()).toEqual(["budget_100", "budget_80"]);
      // The consumer has read past every event of the account (the charges after the crossings included): still one delivery per crossing.
      const log = await eventually(async () => {
        const rows = (await call(notifications, notifications.listNotifications, { accountId, page: { pageSize: 100, pageToken: "" }, traceId: "" })).notifications;
        return rows.every((n) => n.status === notificationsV1.DeliveryStatus.DELIVERY_STATUS_DELIVERED) ? rows : undefined;
      }, 8_000, "delivered notifications");
      expect(log.filter((n) => n.rule.startsWith("budget_")).map((n) => n.rule).sort()).toEqual(["budget_100", "budget_80"]);
      expect(hook.received.filter((w) => w.type === "budget.threshold_crossed")).toHaveLength(2);
      expect((await budgetsOf(accountId))[0]).toMatchObject({ usedMicros: String(40 * CREDIT), mode: L.BudgetMode.BUDGET_MODE_SOFT, thresholdPercents: [80, 100] });
    } finally {
      await hook.stop();
    }
  });

  it("a Meter stream under a hard budget is told to stop with reason BUDGET: by its own increment, and while idle when support lowers the budget", async () => {
    const accountId = "budget-meter";
    await setBudget(accountId, { limitMicros: String(30 * CREDIT), idempotencyKey: "meter-1" });

    // Its own increments: 2 replies held, then 5-credit steps up to the 30-credit budget.
    const own = meterStream(platform.clients.ledger);
    own.open(accountId, "work-own", 2);
    expect((await own.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
    let stop: ledgerV1.MeterStop | undefined;
    for (let sequence = 1; sequence <= 10 && !stop; sequence++) {
      own.increment(sequence, 1);
      for (;;) {
        const answer = await own.next();
        if (answer.kind?.$case === "stop") stop = answer.kind.stop;
        if (answer.kind?.$case === "charged" && answer.kind.charged.proceed) break;
        if (stop) break;
      }
    }
    expect(stop).toMatchObject({ reason: L.MeterStopReason.METER_STOP_REASON_BUDGET, message: expect.stringContaining("credits/agent/agent-1") });
    own.close();
    await own.finished();

    // An idle stream: support lowers the budget below what was used; the stream hears it from the database.
    await setBudget(accountId, { scope: L.BudgetScope.BUDGET_SCOPE_AGENT, scopeId: "agent-9", limitMicros: String(50 * CREDIT), idempotencyKey: "meter-2" });
    const idle = meterStream(platform.clients.ledger, { agentId: "agent-9", model: "gpt-4o" });
    idle.open(accountId, "work-idle", 1);
    expect((await idle.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
    idle.increment(1, 1);
    expect((await idle.next()).kind).toMatchObject({ $case: "charged", charged: { proceed: true } });
    await setBudget(accountId, { scope: L.BudgetScope.BUDGET_SCOPE_AGENT, scopeId: "agent-9", limitMicros: String(1 * CREDIT), idempotencyKey: "meter-3", reason: "runaway agent" });
    expect((await idle.next()).kind).toMatchObject({ $case: "stop", stop: { reason: L.MeterStopReason.METER_STOP_REASON_BUDGET } });
    idle.close();
    await idle.finished();
  });

  it("a Meter stream reopened after its hard budget was used up while it was away is told to stop at once", async () => {
    const accountId = "budget-meter";
    const budget = (limit: number, key: string) =>
      setBudget(accountId, { scope: L.BudgetScope.BUDGET_SCOPE_AGENT, scopeId: "agent-7", limitMicros: String(limit * CREDIT), idempotencyKey: key, reason: "cap the agent" });
    await budget(20, "meter-away-1");
    const first = meterStream(platform.clients.ledger, { agentId: "agent-7", model: "gpt-4o" });
    first.open(accountId, "work-away", 1);
    expect((await first.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
    first.increment(1, 1); // 5 credits used
    expect((await first.next()).kind).toMatchObject({ $case: "charged", charged: { proceed: true } });
    first.cancel();
    await first.finished().catch(() => undefined);
    // While no stream of the work is live, support lowers the budget to what was used: nobody hears the signal.
    await budget(5, "meter-away-2");
    const again = meterStream(platform.clients.ledger, { agentId: "agent-7", model: "gpt-4o" });
    again.open(accountId, "work-away", 1);
    expect((await again.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
    expect((await again.next()).kind).toMatchObject({ $case: "stop", stop: { reason: L.MeterStopReason.METER_STOP_REASON_BUDGET } });
    again.close();
    await again.finished();
  });

  it("runs and deployments under a hard budget: their ticks count as used, they stop at the limit, and then StartRun and Deploy are denied BUDGET_EXCEEDED", async () => {
    const { ledger, entitlements, pricing } = platform.clients;
    const rate = (kind: pricingV1.Rate["kind"]): pricingV1.Rate => ({ bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind });
    await call(pricing, pricing.publishRateTable, {
      tableId: "budget-time", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
      rates: [
        rate({ $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } }), // 1 credit per active second
        rate({ $case: "gpuHour", gpuHour: { gpuType: "A100", microsPerReplicaHour: String(3600 * CREDIT) } }), // 1 credit per replica-second
      ],
    });
    await call(entitlements, entitlements.publishPlan, {
      actor: "test", reason: "",
      plan: entitlementsV1.Plan.fromPartial({
        planId: "budget-time", name: "budget-time", rateTableId: "budget-time",
        allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(1000 * CREDIT) }],
        limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: "0", lowCreditLimitMicros: "0" }],
      }),
    });
    const accountId = "budget-work";
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId: "budget-time", seats: 1, adminEmails: ["admin@budget-work.example"] }));
    await setBudget(accountId, { scopeId: "agent-run", limitMicros: String(2 * CREDIT), idempotencyKey: "work-run" });
    await setBudget(accountId, { scopeId: "agent-dep", limitMicros: String(3 * CREDIT), idempotencyKey: "work-dep" });
    const a100: pricingV1.Usage = { kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } };
    const startRun = (runId: string, agentId: string) =>
      call(ledger, ledger.startRun, L.StartRunRequest.fromPartial({ accountId, runId, idempotencyKey: runId, attribution: agent(agentId) }));
    const deploy = (deploymentId: string, agentId: string) =>
      call(ledger, ledger.deploy, L.DeployRequest.fromPartial({ accountId, deploymentId, hardware: a100, replicas: 1, idempotencyKey: deploymentId, attribution: agent(agentId) }));

    expect(await startRun("run-b", "agent-run")).toMatchObject({ allowed: true, metered: true });
    expect(await deploy("dep-b", "agent-dep")).toMatchObject({ allowed: true, metered: true });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const [workId, limit] of [["run-b", 2], ["dep-b", 3]] as const) {
        const stopped = await eventually(async () => {
          const { rows } = await client.query(`select state, stop_reason, charged_micros from ledger.metered_work where work_id = $1`, [workId]);
          return rows[0]?.state === "stopped" ? rows[0] : undefined;
        }, 20_000, `${workId} to stop at its budget`);
        expect(stopped).toMatchObject({ stop_reason: "budget exceeded", charged_micros: String(limit * CREDIT) });
      }
      const { rows } = await client.query(`select payload from ledger.outbox where account_id = $1 and kind = 'work_stopped' order by id`, [accountId]);
      expect(rows.map((r) => r.payload.message)).toEqual([expect.stringContaining("budget"), expect.stringContaining("budget")]);
      expect(rows.map((r) => r.payload.budget_id).sort()).toEqual(["credits/agent/agent-dep", "credits/agent/agent-run"]);
      // The admins are told the budget ran out, not the credits (the account has most of its 1,000 left).
      const emails = await eventually(async () => {
        const { rows: sent } = await client.query(`select payload from notifications.deliveries where account_id = $1 and rule = 'work_stopped' and channel = 'email'`, [accountId]);
        return sent.length === 2 ? sent.map((r) => r.payload.subject as string).sort() : undefined;
      }, 15_000, "the work_stopped emails");
      expect(emails).toEqual(["Deployment dep-b was stopped: its budget credits/agent/agent-dep is used up", "Run run-b was stopped: its budget credits/agent/agent-run is used up"]);
    } finally {
      await client.end();
    }
    // The ticks counted as used; the balance paid exactly that.
    const balance = await call(ledger, ledger.getBalance, { accountId });
    expect(balance.budgets.map((b) => [b.scopeId, b.usedMicros])).toEqual([["agent-dep", String(3 * CREDIT)], ["agent-run", String(2 * CREDIT)]]);

    for (const refused of [await startRun("run-c", "agent-run"), await deploy("dep-c", "agent-dep"), await deploy("dep-d", "agent-run")]) {
      expect(refused).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_BUDGET_EXCEEDED, message: expect.stringMatching(/agent agent-(run|dep) budget has 0 credits of its [23] credits left/) });
    }
    // Work of another agent is not under them.
    expect(await startRun("run-e", "agent-free")).toMatchObject({ allowed: true });
    await call(ledger, ledger.endRun, { accountId, runId: "run-e", state: L.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "end-e" });
  });

  it("support removes a budget: the agent's work is no longer denied, its fixed banner comes down (as after a raise or a reversal), a repeat answers the same, an unknown one is NOT_FOUND, the meter role may not", async () => {
    const accountId = "budget-meter";
    const { ledger, notifications } = platform.clients;
    await setBudget(accountId, { scopeId: "agent-gone", limitMicros: String(5 * CREDIT), thresholdPercents: [100], idempotencyKey: "gone-set" });
    await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "gone-c1", attribution: agent("agent-gone") }));
    const authorize = (key: string) =>
      call(ledger, ledger.authorize, L.AuthorizeRequest.fromPartial({ accountId, estimate: replies("gpt-4o", 1), idempotencyKey: key, ttlMs: "60000", attribution: agent("agent-gone") }));
    expect(await authorize("gone-a1")).toMatchObject({ allowed: false, reason: L.DenialReason.DENIAL_REASON_BUDGET_EXCEEDED });
    const bannersOf = async (scopeId: string) =>
      (await call(notifications, notifications.listBanners, { accountId, includeDismissed: false })).banners.filter((b) => b.rule === "budget_100" && b.message.includes(scopeId));
    const fixed = await eventually(async () => ((await bannersOf("agent-gone")).length > 0 ? await bannersOf("agent-gone") : undefined), 8_000, "the hard budget's banner");
    expect(fixed[0]).toMatchObject({ kind: notificationsV1.BannerKind.BANNER_KIND_FIXED });

    const remove = (fields: Partial<ledgerV1.DeleteBudgetRequest>) =>
      call(ledger, ledger.deleteBudget, L.DeleteBudgetRequest.fromPartial({ accountId, budgetId: "credits/agent/agent-gone", reason: "agent retired", idempotencyKey: "gone-d1", ...fields }));
    const removed = await remove({});
    expect(removed.budget).toMatchObject({ budgetId: "credits/agent/agent-gone", limitMicros: String(5 * CREDIT), usedMicros: String(5 * CREDIT) });
    expect((await budgetsOf(accountId)).map((b) => b.budgetId)).not.toContain("credits/agent/agent-gone");
    expect(await authorize("gone-a2")).toMatchObject({ allowed: true });
    await eventually(async () => ((await bannersOf("agent-gone")).length === 0 ? true : undefined), 8_000, "the banner taken down after the removal");
    // Raised past what it used, a hard budget's banner comes down too.
    await setBudget(accountId, { scopeId: "agent-raised", limitMicros: String(5 * CREDIT), thresholdPercents: [100], idempotencyKey: "raised-set" });
    await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "raised-c1", attribution: agent("agent-raised") }));
    await eventually(async () => ((await bannersOf("agent-raised")).length > 0 ? true : undefined), 8_000, "the second budget's banner");
    await setBudget(accountId, { scopeId: "agent-raised", limitMicros: String(10 * CREDIT), thresholdPercents: [100], idempotencyKey: "raised-up" });
    await eventually(async () => ((await bannersOf("agent-raised")).length === 0 ? true : undefined), 8_000, "the banner taken down after the raise");
    // So does a reversal that gives it room again.
    await setBudget(accountId, { scopeId: "agent-refunded", limitMicros: String(5 * CREDIT), thresholdPercents: [100], idempotencyKey: "refunded-set" });
    const refunded = await call(ledger, ledger.charge, L.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "refunded-c1", attribution: agent("agent-refunded") }));
    await eventually(async () => ((await bannersOf("agent-refunded")).length > 0 ? true : undefined), 8_000, "the third budget's banner");
    await call(ledger, ledger.reverseCharge, L.ReverseChargeRequest.fromPartial({ accountId, entryId: refunded.entryId, reason: "bad answer refunded", idempotencyKey: "refunded-r1" }));
    await eventually(async () => ((await bannersOf("agent-refunded")).length === 0 ? true : undefined), 8_000, "the banner taken down after the reversal");
    expect(await remove({})).toEqual(removed);
    await expect(remove({ idempotencyKey: "gone-d2" })).rejects.toMatchObject({ code: status.NOT_FOUND, details: expect.stringContaining("credits/agent/agent-gone") });
    await expect(remove({ idempotencyKey: "gone-d3", reason: "" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("reason") });
    const reader = createClient(L.LedgerServiceClient, platform.ledger.address, platform.serviceCredentials("metering", ["meter"]));
    try {
      await expect(call(reader, reader.deleteBudget, L.DeleteBudgetRequest.fromPartial({ accountId, budgetId: "credits/agent/x", reason: "r", idempotencyKey: "meter-del" }))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    } finally {
      reader.close();
    }
  });
});
