/**
 * Cost receipts, the members' usage breakdown and the tool catalogue, through
 * the real ledger and notifications services and the gateway, with
 * authentication on and tracing registered (a charge's trace ties it to the
 * notifications it caused).
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { registerTelemetry } from "@tollgate/telemetry";

// Instrumentation must be in place before gRPC and pg are loaded.
registerTelemetry({ serviceName: "tollgate-test", spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })] });

const { afterAll, beforeAll, describe, expect, it } = await import("vitest");
const { trace } = await import("@opentelemetry/api");
const { call, createClient, errorDetails, ROLES } = await import("@tollgate/grpc-kit");
const { commonV1, entitlementsV1, ledgerV1 } = await import("@tollgate/proto");
const { createTestDatabase, eventually } = await import("@tollgate/testing");
const { startGateway } = await import("@tollgate/gateway");
const { CREDIT, replies } = await import("./fixtures.js");
const { startPlatform } = await import("./platform.js");
const { seedTeam, blockRuns, toolRuns } = await import("./team-fixtures.js");
const { RECEIPT_SQL } = await import("../services/ledger/src/data/receipts.js");
const pg = (await import("pg")).default;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let platform: Awaited<ReturnType<typeof startPlatform>>;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let holdId: string;
let entryId: string;
let traceId: string;

const ledger = () => platform.clients.ledger;
const receipt = async (target: { entryId?: string; holdId?: string }) =>
  (await call(ledger(), ledger().getReceipt, { entryId: target.entryId ?? "0", holdId: target.holdId ?? "" })).receipt!;
const api = async (path: string) => {
  const login = await fetch(`${gateway.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "viewer-pass" }) });
  const { token } = (await login.json()) as { token: string };
  const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedTeam(platform, "team-co");
  // 12 replies held (60 credits), 11 charged (55 of 100: past the 50 % threshold), under one trace.
  traceId = await trace.getTracer("test").startActiveSpan("agent reply", async (span) => {
    const hold = await call(ledger(), ledger().authorize, ledgerV1.AuthorizeRequest.fromPartial({
      accountId: "team-co", estimate: replies("gpt-4o", 12), attribution: { userId: "ana", conversationId: "conv-r1" }, idempotencyKey: "r-authorize", ttlMs: "600000",
    }));
    holdId = hold.holdId;
    const charged = await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "team-co", holdId, usage: replies("gpt-4o", 11), attribution: { userId: "ana", conversationId: "conv-r1" }, final: true, idempotencyKey: "r-charge",
    }));
    entryId = charged.entryId;
    span.end();
    return span.spanContext().traceId;
  });
  gateway = await startGateway({
    databaseUrl: db.url, port: 0, secret: "a-receipt-test-secret-long-enough-0123456789", users: "vera:viewer-pass:viewer",
    ...platform.serviceCredentials("gateway", ROLES),
    addresses: platform.addresses,
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await platform?.stop();
  await db?.drop();
});

describe("LedgerService.GetReceipt", () => {
  it("gives a held charge's receipt: asked and charged, the rate and quantity, the pool drawn, the balance before and after, the key and the trace", async () => {
    const r = await receipt({ entryId });
    expect(r).toMatchObject({
      accountId: "team-co", unit: commonV1.Unit.UNIT_CREDITS, bucket: commonV1.Bucket.BUCKET_AI,
      askedMicros: String(60 * CREDIT), chargedMicros: String(55 * CREDIT), uncollectedMicros: "0",
      rateTableId: "team-rates", rateTableVersion: "1",
      balanceBeforeMicros: String(100 * CREDIT), balanceAfterMicros: String(45 * CREDIT),
      idempotencyKey: "r-charge", operation: "charge", traceId,
    });
    expect(r.lines).toEqual([{
      bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, description: "gpt-4o replies",
      rateMicros: String(5 * CREDIT), ratePer: "1", quantity: "11", quantityKnown: true, amountMicros: String(55 * CREDIT),
    }]);
    expect(r.pools).toEqual([{ poolId: expect.any(String), kind: entitlementsV1.PoolKind.POOL_KIND_MONTHLY, drawnMicros: String(55 * CREDIT) }]);
    expect(r.hold).toMatchObject({ holdId, amountMicros: String(60 * CREDIT), chargedMicros: String(55 * CREDIT) });
    expect(r.charges.map((c) => c.entryId)).toEqual([entryId]);
    // The 50 % threshold the charge crossed, written in its transaction under its trace.
    expect(r.events.map((e) => e.kind?.$case === "thresholdCrossed" && e.kind.thresholdCrossed.thresholdPercent)).toEqual([50]);
  });

  it("gives the hold's receipt: its authorization's key and every charge on it", async () => {
    const r = await receipt({ holdId });
    expect(r).toMatchObject({ askedMicros: String(60 * CREDIT), chargedMicros: String(55 * CREDIT), idempotencyKey: "r-authorize", operation: "authorize" });
    expect(r.charges.map((c) => c.entryId)).toEqual([entryId]);
  });

  it("gives a one-shot charge's receipt (asked is what it was priced at) and a tool run's quantity at the default tool rate", async () => {
    const shot = await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "team-co", usage: toolRuns("web-search", 3), attribution: { userId: "bob" }, final: true, idempotencyKey: "r-tool",
    }));
    const r = await receipt({ entryId: shot.entryId });
    expect(r).toMatchObject({ unit: commonV1.Unit.UNIT_TOOL_RUNS, askedMicros: String(3 * CREDIT), chargedMicros: String(3 * CREDIT), idempotencyKey: "r-tool", hold: undefined });
    expect(r.lines).toMatchObject([{ description: "web-search runs", quantity: "3", quantityKnown: true }]);
    expect(BigInt(r.balanceBeforeMicros) - BigInt(r.balanceAfterMicros)).toBe(BigInt(3 * CREDIT));
  });

  it("answers NOT_FOUND for an unknown id and INVALID_ARGUMENT naming the field for a grant entry or no id", async () => {
    expect(errorDetails(await receipt({ entryId: "999999" }).catch((e: unknown) => e))).toMatchObject({ code: 5 });
    expect(errorDetails(await receipt({ holdId: "00000000-0000-4000-8000-000000000000" }).catch((e: unknown) => e))).toMatchObject({ code: 5 });
    const grants = await call(ledger(), ledger().listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "team-co", kind: ledgerV1.EntryKind.ENTRY_KIND_GRANT }));
    const grant = grants.entries[0]!.entryId;
    expect(errorDetails(await receipt({ entryId: grant }).catch((e: unknown) => e))).toMatchObject({ code: 3, fieldViolations: [{ field: "entry_id" }] });
    expect(errorDetails(await receipt({}).catch((e: unknown) => e))).toMatchObject({ code: 3, fieldViolations: [{ field: "entry_id" }] });
  });

  it("finds the call's key and the events by the transaction's time through indexes (no sequential scan of keys or the outbox)", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The tables here are tiny, where a sequential scan is cheapest; forbid it to see that an index serves each look-up.
      await client.query("set enable_seqscan = off");
      const r = await receipt({ entryId });
      for (const [statement, parameters] of [
        [RECEIPT_SQL.entryKey, [entryId, "team-co", entryId]],
        [RECEIPT_SQL.holdKey, [holdId, "team-co", holdId]],
        [RECEIPT_SQL.events, ["team-co", `{${entryId}}`, r.traceId, r.traceId]],
      ] as const) {
        let n = 0;
        const { rows } = await client.query(`explain ${statement.replace(/\?/g, () => `$${++n}`)}`, [...parameters]);
        const plan = rows.map((row: Record<string, string>) => row["QUERY PLAN"]).join("\n");
        expect(plan, plan).not.toMatch(/Seq Scan on (idempotency_keys|outbox)/);
      }
    } finally {
      await client.end();
    }
  });

  it("is refused to a meter credential", async () => {
    const meter = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, { credentials: platform.issuer!.credential("meter-probe", ["meter"]) });
    const error = await call(meter, meter.getReceipt, { entryId, holdId: "" }).catch((e: unknown) => e);
    meter.close();
    expect(errorDetails(error)).toMatchObject({ code: 7 });
  });

  it("GET /api/receipts/:id answers the receipt with the notifications its charge caused, found through the notifications service", async () => {
    const answer = await eventually(async () => {
      const { body } = await api(`/api/receipts/${entryId}`);
      return body.notifications?.length ? body : undefined;
    }, 10_000, "the 50 % notifications");
    expect(answer).toMatchObject({ asked_micros: String(60 * CREDIT), charged_micros: String(55 * CREDIT), idempotency_key: "r-charge", trace_id: traceId, rate_table_version: "1" });
    expect(answer.notifications.every((n: { trace_id: string; rule: string }) => n.trace_id === traceId)).toBe(true);
    expect(answer.events).toMatchObject([{ kind: "threshold_crossed", details: { thresholdPercent: 50, unit: "credits" } }]);
    expect((await api(`/api/receipts/${holdId}`)).body.idempotency_key).toBe("r-authorize");
    expect((await api("/api/receipts/not-an-id")).status).toBe(400);
  });
});

describe("members' usage and the tool catalogue", () => {
  it("splits the cycle's charges per member into ai, compute and platform, with the team's total", async () => {
    for (const [user, block, runs] of [["ana", "sandbox", 2], ["bob", "orchestrate", 4], ["bob", "sandbox", 1]] as const) {
      await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "team-co", usage: blockRuns(block, runs), attribution: { userId: user }, final: true, idempotencyKey: `m-${user}-${block}`,
      }));
    }
    const { body } = await api("/api/accounts/team-co/member-usage?unit=credits");
    // ana: 55 ai + 2 × 1 compute; bob: 4 × 0.5 platform + 1 compute.
    expect(body.team).toEqual({ ai_micros: String(55 * CREDIT), compute_micros: String(3 * CREDIT), platform_micros: String(2 * CREDIT), total_micros: String(60 * CREDIT) });
    expect(body.data).toEqual([
      { id: "ana", user_id: "ana", ai_micros: String(55 * CREDIT), compute_micros: String(2 * CREDIT), platform_micros: "0", total_micros: String(57 * CREDIT) },
      { id: "bob", user_id: "bob", ai_micros: "0", compute_micros: String(1 * CREDIT), platform_micros: String(2 * CREDIT), total_micros: String(3 * CREDIT) },
    ]);
    expect(await api("/api/accounts/team-co/member-usage?unit=coins")).toMatchObject({ status: 400, body: { error: { field: "unit" } } });
    const bad = await call(ledger(), ledger().getUsageBreakdown, { accountId: "team-co", dimension: "password", splitBy: "bucket", since: undefined }).catch((e: unknown) => e);
    expect(errorDetails(bad)).toMatchObject({ code: 3, fieldViolations: [{ field: "dimension" }] });
  });

  it("lists tools deployed at least once with owner, runs, last active and status, never those in development", async () => {
    const set = (tool: string, owner: string, status: number) => call(ledger(), ledger().setTool, { accountId: "team-co", tool, owner, status });
    const S = ledgerV1.ToolStatus;
    await set("web-search", "ana", S.TOOL_STATUS_DEPLOYED);
    await set("draft-tool", "bob", S.TOOL_STATUS_DEVELOPMENT);
    await set("old-tool", "bob", S.TOOL_STATUS_DEPLOYED);
    await set("old-tool", "bob", S.TOOL_STATUS_DELETED);
    await set("never-shipped", "bob", S.TOOL_STATUS_DELETED);
    await call(ledger(), ledger().charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "team-co", usage: toolRuns("draft-tool", 1), final: true, idempotencyKey: "t-draft" }));
    const again = await set("web-search", "ana", S.TOOL_STATUS_DEPLOYED);
    expect(again.tool).toMatchObject({ runs: "1", usedMicros: String(3 * CREDIT), unit: commonV1.Unit.UNIT_TOOL_RUNS });
    const { body } = await api("/api/accounts/team-co/tools");
    expect(body).toMatchObject({ total_tools: "2", total_runs: "1" });
    expect(body.data.map((t: Record<string, string>) => [t.id, t.owner, t.status, t.runs])).toEqual([["web-search", "ana", "deployed", "1"], ["old-tool", "bob", "deleted", "0"]]);
    expect(body.data[0].last_active_at).not.toBeNull();
    const unknown = await call(ledger(), ledger().setTool, { accountId: "nobody", tool: "x", owner: "", status: S.TOOL_STATUS_DEPLOYED }).catch((e: unknown) => e);
    expect(errorDetails(unknown)).toMatchObject({ code: 5 });
    const noStatus = await call(ledger(), ledger().setTool, { accountId: "team-co", tool: "x", owner: "", status: 0 }).catch((e: unknown) => e);
    expect(errorDetails(noStatus)).toMatchObject({ code: 3, fieldViolations: [{ field: "status" }] });
  });
});
