import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { registerTelemetry } from "@tollgate/telemetry";

// Instrumentation must be in place before gRPC and pg are loaded.
const exporter = new InMemorySpanExporter();
registerTelemetry({ serviceName: "tollgate-test", spanProcessors: [new SimpleSpanProcessor({ exporter })] });

const { afterAll, beforeAll, expect, it } = await import("vitest");
const { trace } = await import("@opentelemetry/api");
const { call } = await import("@tollgate/grpc-kit");
const { createTestDatabase, eventually } = await import("@tollgate/testing");
const { authorizeRequest, CREDIT, replies, seedStarter } = await import("./fixtures.js");
const { commonV1, ledgerV1 } = await import("@tollgate/proto");
const { startPlatform } = await import("./platform.js");
const { startSmtpSink } = await import("./sinks.js");

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let platform: Awaited<ReturnType<typeof startPlatform>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { smtpUrl: smtp.url });
  await seedStarter(platform, "traced");
  await seedStarter(platform, "traced-budget");
});

afterAll(async () => {
  await platform?.stop();
  await smtp?.stop();
  await db?.drop();
});

it("follows Authorize → Charge → outbox → notifications as one trace", async () => {
  const { ledger, notifications } = platform.clients;
  const traceId = await trace.getTracer("test").startActiveSpan("caller: run agent reply", async (root) => {
    const hold = await call(ledger, ledger.authorize, authorizeRequest("traced", "trace-auth", 12));
    expect(hold.allowed).toBe(true);
    await call(ledger, ledger.charge, {
      accountId: "traced",
      holdId: hold.holdId,
      usage: replies("gpt-4o", 12),
      final: true,
      idempotencyKey: "trace-charge",
      attribution: undefined,
      context: undefined,
      occurredAt: undefined, workKind: 0,
    });
    root.end();
    return root.spanContext().traceId;
  });

  await eventually(async () => {
    const response = await call(notifications, notifications.listBanners, { accountId: "traced", includeDismissed: false });
    return response.banners.some((b) => b.thresholdPercent === 50) ? true : undefined;
  }, 5_000, "the 50 % banner");

  const spans = await eventually(async () => {
    const inTrace = exporter.getFinishedSpans().filter((s: ReadableSpan) => s.spanContext().traceId === traceId);
    return inTrace.some((s) => s.name === "notifications.deliver email") ? inTrace : undefined;
  }, 5_000, "the email delivery span");
  const names = spans.map((s) => s.name);

  // The ledger's RPCs, the pricing cache fill (and pricing's server span), Postgres, and notifications.
  expect(names).toContain("grpc.tollgate.ledger.v1.LedgerService/Authorize");
  expect(names).toContain("grpc.tollgate.ledger.v1.LedgerService/Charge");
  expect(names).toContain("ledger.rate_cache.fill");
  expect(names).toContain("grpc.tollgate.pricing.v1.PricingService/ListRateTableVersions");
  expect(names.some((n) => n.startsWith("pg.query"))).toBe(true);
  expect(names).toContain("notifications.consume thresholdCrossed");

  // The notifications span descends from the ledger's Charge server span.
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const consume = spans.find((s) => s.name === "notifications.consume thresholdCrossed")!;
  const ancestors: string[] = [];
  for (let parent = consume.parentSpanContext?.spanId; parent; parent = byId.get(parent)?.parentSpanContext?.spanId) {
    ancestors.push(byId.get(parent)?.name ?? "?");
  }
  expect(ancestors).toContain("grpc.tollgate.ledger.v1.LedgerService/Charge");

  // The threshold email's delivery (the SMTP send) is in the same trace, under the consumer span.
  const deliver = spans.find((s) => s.name === "notifications.deliver email")!;
  expect(byId.get(deliver.parentSpanContext!.spanId)?.name).toBe("notifications.consume thresholdCrossed");
  // That consume span says what its event became.
  const crossing = byId.get(deliver.parentSpanContext!.spanId)!;
  expect(crossing.attributes["tollgate.rules"]).toContain("usage_50");
  expect(crossing.attributes["tollgate.channels"]).toContain("email");
  expect(deliver.attributes).toMatchObject({ "tollgate.rule": "usage_50", "tollgate.channel": "email", "tollgate.delivery.outcome": "delivered" });
  expect(smtp.messages.some((m) => m.subject === "You have used 50% of your credits")).toBe(true);

  // The Authorize opened the account's first cycle: the allotment it granted names the call's trace, as the charge does.
  const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "traced" }));
  const allotment = entries.entries.find((e) => e.reason === "monthly allotment");
  expect(allotment?.traceId).toBe(traceId);
  expect(entries.entries.filter((e) => e.kind === ledgerV1.EntryKind.ENTRY_KIND_CHARGE).map((e) => e.traceId)).toEqual([traceId]);
});

it("follows support removing a used-up budget to notifications taking its banner down, as one trace", async () => {
  const { ledger, notifications } = platform.clients;
  const accountId = "traced-budget";
  const attribution = commonV1.Attribution.fromPartial({ agentId: "agent-traced", model: "gpt-4o" });
  await call(ledger, ledger.setBudget, ledgerV1.SetBudgetRequest.fromPartial({
    accountId, unit: commonV1.Unit.UNIT_CREDITS, scope: ledgerV1.BudgetScope.BUDGET_SCOPE_AGENT, scopeId: "agent-traced", mode: ledgerV1.BudgetMode.BUDGET_MODE_HARD,
    limitMicros: String(5 * CREDIT), thresholdPercents: [100], reason: "cap the agent", idempotencyKey: "traced-budget-set",
  }));
  await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "traced-budget-c1", attribution }));
  const budgetBanners = async () => (await call(notifications, notifications.listBanners, { accountId, includeDismissed: false })).banners.filter((b) => b.rule === "budget_100");
  await eventually(async () => ((await budgetBanners()).length > 0 ? true : undefined), 8_000, "the used-up budget's banner");

  const traceId = await trace.getTracer("test").startActiveSpan("support: retire the agent", async (root) => {
    await call(ledger, ledger.deleteBudget, ledgerV1.DeleteBudgetRequest.fromPartial({ accountId, budgetId: "credits/agent/agent-traced", reason: "agent retired", idempotencyKey: "traced-budget-d1" }));
    root.end();
    return root.spanContext().traceId;
  });
  const spans = await eventually(async () => {
    const inTrace = exporter.getFinishedSpans().filter((s: ReadableSpan) => s.spanContext().traceId === traceId);
    return inTrace.some((s) => s.name === "notifications.consume budgetLifted") ? inTrace : undefined;
  }, 8_000, "the budget_lifted consume span in the DeleteBudget's trace");
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const consume = spans.find((s) => s.name === "notifications.consume budgetLifted")!;
  const ancestors: string[] = [];
  for (let parent = consume.parentSpanContext?.spanId; parent; parent = byId.get(parent)?.parentSpanContext?.spanId) ancestors.push(byId.get(parent)?.name ?? "?");
  expect(ancestors).toContain("grpc.tollgate.ledger.v1.LedgerService/DeleteBudget");
  expect(await budgetBanners()).toEqual([]);
});

it("shows a group-commit transaction as one span linked to every call it carried", async () => {
  const { ledger } = platform.clients;
  const traceId = await trace.getTracer("test").startActiveSpan("caller: fan out", async (root) => {
    const holds = await Promise.all(Array.from({ length: 6 }, (_, i) => call(ledger, ledger.authorize, authorizeRequest("traced", `fan-${i}`, 1))));
    expect(holds.every((h) => h.allowed)).toBe(true);
    root.end();
    return root.spanContext().traceId;
  });
  const batch = await eventually(async () => {
    const found = exporter.getFinishedSpans().find((s: ReadableSpan) => s.name === "ledger.group_commit" && s.spanContext().traceId === traceId);
    return found;
  }, 5_000, "the group-commit span");
  expect(Number(batch.attributes["tollgate.batch_size"])).toBeGreaterThanOrEqual(2);
  expect(batch.links.length).toBe(Number(batch.attributes["tollgate.batch_size"]));
  expect(batch.links.every((link) => link.context.traceId === traceId)).toBe(true);
  // Its Postgres statement is a child of it, in the same trace.
  const children = exporter.getFinishedSpans().filter((s: ReadableSpan) => s.parentSpanContext?.spanId === batch.spanContext().spanId);
  expect(children.some((s) => s.name.startsWith("pg.query"))).toBe(true);
});

/** The finished server span of one ledger RPC in a trace. */
const rpcSpan = (traceId: string, method: string) =>
  eventually(async () => exporter.getFinishedSpans().find((s: ReadableSpan) => s.spanContext().traceId === traceId && s.name === `grpc.tollgate.ledger.v1.LedgerService/${method}`), 5_000, `the ${method} span`);

it("says on a denied Authorize's span why it was denied, with the numbers behind it", async () => {
  const { ledger } = platform.clients;
  const balance = await call(ledger, ledger.getBalance, { accountId: "traced" });
  const available = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!.availableMicros;
  const request = authorizeRequest("traced", "trace-denied", 100); // 500 credits
  const traced = (name: string) => trace.getTracer("test").startActiveSpan(name, async (root) => {
    const response = await call(ledger, ledger.authorize, request);
    root.end();
    return { response, traceId: root.spanContext().traceId };
  });

  const denied = await traced("caller: too big a reply");
  expect(denied.response.allowed).toBe(false);
  const span = await rpcSpan(denied.traceId, "Authorize");
  expect(span.attributes).toMatchObject({
    "rpc.system": "grpc",
    "rpc.method": "Authorize",
    "tollgate.account_id": "traced",
    "tollgate.unit": "credits",
    "tollgate.allowed": false,
    "tollgate.reason": "INSUFFICIENT_CREDITS",
    "tollgate.amount_micros": 500 * CREDIT,
    "tollgate.available_after_micros": Number(available),
    "tollgate.rate_table.id": "default",
    "tollgate.rate_table.version": Number(denied.response.rateTableVersion),
    "tollgate.idempotent_replay": false,
    "tollgate.batch_size": 1,
  });
  expect(Number(available)).toBeLessThan(500 * CREDIT);
  expect(span.attributes["tollgate.hold_id"]).toBeUndefined();

  // The same key again is answered from the idempotency record, and the span says so.
  const replay = await traced("caller: retry");
  expect(replay.response).toEqual(denied.response);
  expect((await rpcSpan(replay.traceId, "Authorize")).attributes).toMatchObject({ "tollgate.reason": "INSUFFICIENT_CREDITS", "tollgate.idempotent_replay": true });
});

it("names the pools a Charge drew, with the amount from each", async () => {
  const { ledger } = platform.clients;
  const traceId = await trace.getTracer("test").startActiveSpan("caller: one reply", async (root) => {
    await call(ledger, ledger.charge, { accountId: "traced", holdId: "", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "trace-pools", attribution: undefined, context: undefined, occurredAt: undefined, workKind: 0 });
    root.end();
    return root.spanContext().traceId;
  });
  const span = await rpcSpan(traceId, "Charge");
  const { pools } = await call(ledger, ledger.getBalance, { accountId: "traced" });
  const monthly = pools.find((p) => p.unit === commonV1.Unit.UNIT_CREDITS)!;
  expect(span.attributes).toMatchObject({
    "tollgate.account_id": "traced",
    "tollgate.unit": "credits",
    "tollgate.amount_micros": 5 * CREDIT,
    "tollgate.pools_drawn.ids": [monthly.poolId],
    "tollgate.pools_drawn.amounts_micros": [5 * CREDIT],
    "tollgate.rate_table.id": "default",
    "tollgate.idempotent_replay": false,
  });
  expect(span.attributes["tollgate.balance_after_micros"]).toBe(Number(monthly.balanceMicros));
});

it("does not trace Prometheus scrapes", async () => {
  const before = exporter.getFinishedSpans().length;
  expect((await fetch(platform.ledger.metrics.url)).status).toBe(200);
  expect((await fetch(platform.ledger.metrics.url.replace("/metrics", "/nothing"))).status).toBe(404);
  // The other request to the same server is traced, so the scrape's absence is the hook's doing. (Only HTTP server
  // spans count: a gRPC call finishing meanwhile, such as notifications acknowledging events, is a server span too.)
  const isHttpServer = (s: ReadableSpan) => s.kind === 1 && (s.attributes["http.request.method"] ?? s.attributes["http.method"]) !== undefined;
  const spans = await eventually(async () => {
    const after = exporter.getFinishedSpans().slice(before);
    return after.some(isHttpServer) ? after : undefined;
  }, 5_000, "the traced request's server span");
  const paths = spans.filter(isHttpServer).map((s) => s.attributes["url.path"] ?? s.attributes["http.target"]);
  expect(paths).toEqual(["/nothing"]);
});
