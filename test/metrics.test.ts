import { afterAll, beforeAll, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { call } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { authorizeRequest, CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { scrape, value } from "./prometheus.js";
import { startSmtpSink, startWebhookReceiver } from "./sinks.js";

const N = notificationsV1;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MAX_ATTEMPTS = 3;

let db: TestDatabase;
let platform: Platform;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;

const ACCOUNT = "metered";
const ALLOWED = 3; // 2 replies (10 credits) each: three open holds of 10 credits
const DENIED = 2; // 100 replies (500 credits) on a 100-credit plan

beforeAll(async () => {
  smtp = await startSmtpSink();
  hook = await startWebhookReceiver(SECRET, 1_000_000); // never accepts: every webhook ends as a dead letter
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { smtpUrl: smtp.url, retryBaseMs: 20, maxAttempts: MAX_ATTEMPTS });
  await seedStarter(platform, ACCOUNT);
  const { ledger, notifications } = platform.clients;
  await call(notifications, notifications.setPreferences, {
    updateFields: [],
    preferences: N.Preferences.fromPartial({ accountId: ACCOUNT, webhooks: [{ url: hook.url, secret: SECRET }] }),
  });

  const holds = [];
  for (let i = 0; i < ALLOWED; i++) holds.push(await call(ledger, ledger.authorize, authorizeRequest(ACCOUNT, `allowed-${i}`, 2)));
  for (let i = 0; i < DENIED; i++) await call(ledger, ledger.authorize, authorizeRequest(ACCOUNT, `denied-${i}`, 100));
  expect(holds.every((h) => h.allowed)).toBe(true);
  // One bad call: an error status in the RPC histogram.
  await expect(call(ledger, ledger.authorize, authorizeRequest("", "bad", 1))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  // 60 credits on the first hold: crosses 20 % and 50 % (an email at 50 %, webhooks that all fail).
  await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: ACCOUNT, holdId: holds[0]!.holdId, usage: replies("gpt-4o", 12), final: true, idempotencyKey: "charge-1" }));
});

afterAll(async () => {
  await platform?.stop();
  await hook?.stop();
  await smtp?.stop();
  await db?.drop();
});

it("exposes the ledger's decisions, RPC latencies, group commit, open holds and pool use at /metrics", async () => {
  const samples = await scrape(platform.ledger.metrics.url);

  // Decisions by reason and unit: exactly the calls made.
  const authorized = { tollgate_operation: "authorize", tollgate_unit: "credits" };
  expect(value(samples, "tollgate_ledger_decisions_total", { ...authorized, tollgate_allowed: "false", tollgate_reason: "INSUFFICIENT_CREDITS" })).toBe(DENIED);
  expect(value(samples, "tollgate_ledger_decisions_total", { ...authorized, tollgate_allowed: "true" })).toBe(ALLOWED);
  expect(value(samples, "tollgate_ledger_decisions_total", { tollgate_allowed: "true" })).toBe(ALLOWED); // nothing else decided
  // The one charge: 60 credits collected, nothing left uncollected.
  expect(value(samples, "tollgate_ledger_charges_total", { tollgate_unit: "credits", tollgate_allowed: "true" })).toBe(1);
  expect(value(samples, "tollgate_ledger_charged_total", { tollgate_unit: "credits" })).toBe(60 * CREDIT);
  expect(value(samples, "tollgate_ledger_uncollected_total", { tollgate_unit: "credits" })).toBeUndefined();

  // rpc.server.duration: one observation per call, by method and status code.
  const authorize = { rpc_service: "tollgate.ledger.v1.LedgerService", rpc_method: "Authorize" };
  expect(value(samples, "rpc_server_duration_count", { ...authorize, rpc_grpc_status_code: "0" })).toBe(ALLOWED + DENIED);
  expect(value(samples, "rpc_server_duration_count", { ...authorize, rpc_grpc_status_code: String(status.INVALID_ARGUMENT) })).toBe(1);
  expect(value(samples, "rpc_server_duration_count", { rpc_method: "Charge", rpc_grpc_status_code: "0" })).toBe(1);
  expect(value(samples, "rpc_server_duration_bucket", { ...authorize, rpc_grpc_status_code: "0", le: "+Inf" })).toBe(ALLOWED + DENIED);
  expect(value(samples, "rpc_server_duration_sum", { ...authorize, rpc_grpc_status_code: "0" })).toBeGreaterThan(0);

  // Group commit: every Authorize and Charge that reached the store is in exactly one transaction.
  expect(value(samples, "tollgate_ledger_group_commit_batch_size_sum")).toBe(ALLOWED + DENIED + 1);
  expect(value(samples, "tollgate_ledger_group_commit_wait_count")).toBe(ALLOWED + DENIED + 1);

  // Open holds: the first was charged (final), the other two still reserve 10 credits each.
  expect(value(samples, "tollgate_ledger_holds_open", { tollgate_unit: "credits" })).toBe(ALLOWED - 1);
  expect(value(samples, "tollgate_ledger_holds_open_amount", { tollgate_unit: "credits" })).toBe((ALLOWED - 1) * 10 * CREDIT);
  // A unit with no open hold reads 0 rather than vanishing.
  expect(value(samples, "tollgate_ledger_holds_open", { tollgate_unit: "usd" })).toBe(0);

  // Pool use: the test platform gives each service 4 connections.
  expect(value(samples, "db_client_connection_max", { db_client_connection_pool_name: "ledger" })).toBe(4);
  const open = value(samples, "db_client_connection_count", { db_client_connection_pool_name: "ledger" })!;
  expect(open).toBeGreaterThanOrEqual(1);
  expect(open).toBeLessThanOrEqual(4);
});

it("exposes deliveries, failures, dead letters and the outbox lag of notifications", async () => {
  const { notifications } = platform.clients;
  // Settled: the email delivered, every webhook dead-lettered after its last attempt.
  const rows = await eventually(async () => {
    const log = (await call(notifications, notifications.listNotifications, { accountId: ACCOUNT, page: { pageSize: 100, pageToken: "" }, traceId: "" })).notifications;
    const emails = log.filter((n) => n.channel === N.Channel.CHANNEL_EMAIL);
    const webhooks = log.filter((n) => n.channel === N.Channel.CHANNEL_WEBHOOK);
    const done = emails.length > 0 && emails.every((n) => n.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED)
      && webhooks.length > 0 && webhooks.every((n) => n.status === N.DeliveryStatus.DELIVERY_STATUS_DEAD_LETTER);
    return done ? { emails, webhooks } : undefined;
  }, 10_000, "the email delivered and every webhook dead-lettered");

  const samples = await eventually(async () => {
    const scraped = await scrape(platform.notifications.metrics.url);
    return value(scraped, "tollgate_notifications_outbox_lag") === 0 ? scraped : undefined;
  }, 5_000, "no outbox lag");
  expect(value(samples, "tollgate_notifications_deliveries_total", { tollgate_channel: "email" })).toBe(rows.emails.length);
  expect(value(samples, "tollgate_notifications_deliveries_total", { tollgate_channel: "webhook" })).toBeUndefined();
  expect(value(samples, "tollgate_notifications_dead_letters_total", { tollgate_channel: "webhook" })).toBe(rows.webhooks.length);
  expect(value(samples, "tollgate_notifications_delivery_failures_total", { tollgate_channel: "webhook" })).toBe(rows.webhooks.length * (MAX_ATTEMPTS - 1));
  expect(hook.attempts()).toBe(rows.webhooks.length * MAX_ATTEMPTS);
  expect(value(samples, "rpc_server_duration_count", { rpc_method: "SetPreferences", rpc_grpc_status_code: "0" })).toBe(1);
  expect(value(samples, "db_client_connection_max", { db_client_connection_pool_name: "notifications" })).toBe(4);
});

it("exposes RPC latencies and pool use of pricing and entitlements, each on its own port", async () => {
  const ports = new Set([platform.entitlements, platform.pricing, platform.ledger, platform.notifications].map((s) => s.metrics.port));
  expect(ports.size).toBe(4);
  const pricing = await scrape(platform.pricing.metrics.url);
  expect(value(pricing, "rpc_server_duration_count", { rpc_service: "tollgate.pricing.v1.PricingService", rpc_method: "PublishRateTable", rpc_grpc_status_code: "0" })).toBe(1);
  expect(value(pricing, "db_client_connection_max", { db_client_connection_pool_name: "pricing" })).toBe(4);
  // Instruments of one service do not show up in another's registry.
  expect(value(pricing, "tollgate_ledger_decisions_total")).toBeUndefined();
  const entitlements = await scrape(platform.entitlements.metrics.url);
  expect(value(entitlements, "rpc_server_duration_count", { rpc_method: "CreateAccount", rpc_grpc_status_code: "0" })).toBe(1);
  expect(value(entitlements, "db_client_connection_max", { db_client_connection_pool_name: "entitlements" })).toBe(4);
  expect((await fetch(platform.pricing.metrics.url.replace("/metrics", "/other"))).status).toBe(404);
});

it("answers the probes of every service on its metrics port: ready while it serves", async () => {
  for (const service of [platform.entitlements, platform.pricing, platform.ledger, platform.notifications]) {
    expect((await fetch(service.metrics.url.replace("/metrics", "/readyz"))).status, service.metrics.url).toBe(200);
    expect((await fetch(service.metrics.url.replace("/metrics", "/healthz"))).status, service.metrics.url).toBe(200);
  }
});

it("exposes each watch stream's version lag (latest published minus applied), 0 once the ledger has caught up", async () => {
  const lags = async () => {
    const samples = await scrape(platform.ledger.metrics.url);
    return Object.fromEntries(["accounts", "plans", "rate_tables"].map((stream) => [stream, value(samples, "tollgate_ledger_watch_version_lag", { tollgate_stream: stream })]));
  };
  expect(await eventually(async () => {
    const now = await lags();
    return Object.values(now).every((v) => v === 0) ? now : undefined;
  }, 10_000, "every watch stream caught up")).toEqual({ accounts: 0, plans: 0, rate_tables: 0 });

  // A new plan version and an account change reach the ledger through the streams, which catch up again.
  const { entitlements } = platform.clients;
  const { plan } = await call(entitlements, entitlements.getPlan, { planId: "starter", version: "0" });
  await call(entitlements, entitlements.publishPlan, { plan: { ...plan!, name: "Starter (renamed)" }, actor: "test", reason: "lag" });
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "lagging", name: "Lagging", planId: "starter", seats: 1 }));
  expect(await eventually(async () => {
    const now = await lags();
    return Object.values(now).every((v) => v === 0) ? now : undefined;
  }, 10_000, "every watch stream caught up again")).toEqual({ accounts: 0, plans: 0, rate_tables: 0 });
});

it("reconciles every account in slices and reports books that disagree (last: it corrupts the ledger)", async () => {
  const mismatches = async (check: string) => value(await scrape(platform.ledger.metrics.url), "tollgate_ledger_reconciliation_mismatches", { tollgate_check: check });
  // A clean ledger after the flow: full passes and no difference.
  const clean = await eventually(async () => {
    const samples = await scrape(platform.ledger.metrics.url);
    return (value(samples, "tollgate_ledger_reconciliation_passes_total") ?? 0) >= 2 ? samples : undefined;
  }, 5_000, "two reconciliation passes");
  expect(value(clean, "tollgate_ledger_reconciliation_mismatches", { tollgate_check: "journal" })).toBe(0);
  expect(value(clean, "tollgate_ledger_reconciliation_mismatches", { tollgate_check: "held" })).toBe(0);
  expect(value(clean, "tollgate_ledger_reconciliation_accounts_checked_total")).toBeGreaterThanOrEqual(1);

  // A pool changed behind the journal's back, and a held amount no open hold explains.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`update ledger.pools set balance_micros = balance_micros + 1 where account_id = $1 and kind = 'monthly'`, [ACCOUNT]);
    await client.query(`update ledger.balances set held_micros = held_micros + 7 where account_id = $1 and unit = 'credits'`, [ACCOUNT]);
  } finally {
    await client.end();
  }
  await eventually(async () => ((await mismatches("journal")) === 1 ? true : undefined), 5_000, "the journal mismatch");
  await eventually(async () => ((await mismatches("held")) === 1 ? true : undefined), 5_000, "the held mismatch");
});
