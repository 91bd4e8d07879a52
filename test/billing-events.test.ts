import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { startNotificationsService } from "@tollgate/notifications";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { CREDIT, readEvents, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { startSmtpSink, startWebhookReceiver } from "./sinks.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const USD = 1_000_000;
const N = notificationsV1;

let db: TestDatabase;
let platform: Platform;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let sql: pg.Client;

const tokens = (input: number, output: number): pricingV1.Usage => ({
  kind: { $case: "modelTokens", modelTokens: { model: "own-sonnet", inputTokens: String(input), outputTokens: String(output), cacheReadTokens: "0", cacheWriteTokens: "0" } },
});

async function createAccount(request: Partial<entitlementsV1.CreateAccountRequest>, webhookUrl: string) {
  const { entitlements, notifications } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ seats: 5, name: request.accountId, ...request }));
  await call(notifications, notifications.setPreferences, {
    updateFields: [],
    preferences: N.Preferences.fromPartial({ accountId: request.accountId, webhooks: [{ url: webhookUrl, secret: SECRET }] }),
  });
}

const rows = async (accountId: string) =>
  (await call(platform.clients.notifications, platform.clients.notifications.listNotifications, { accountId, page: { pageSize: 100, pageToken: "" }, traceId: "" })).notifications;

const delivered = (accountId: string, count: number) =>
  eventually(async () => {
    const log = await rows(accountId);
    return log.length === count && log.every((n) => n.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED) ? log : undefined;
  }, 10_000, `${count} delivered notifications for ${accountId}`);

const outbox = async (accountId: string, kind: string) =>
  (await sql.query(`select sequence from ledger.outbox where account_id = $1 and kind = $2`, [accountId, kind])).rows.length;

/** Reads the whole event stream through StreamEvents and returns the account's events. */
async function eventsOf(accountId: string) {
  const { ledger } = platform.clients;
  await call(ledger, ledger.getBalance, { accountId }); // sequences what is pending
  const total = Number((await sql.query<{ n: string }>(`select count(*)::text as n from ledger.outbox`)).rows[0]!.n);
  return (await readEvents(platform, 0, total)).filter((e) => e.accountId === accountId);
}

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { smtpUrl: smtp.url });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await seedStarter(platform, "billing-seed");
  const { pricing, entitlements } = platform.clients;
  await call(pricing, pricing.publishRateTable, {
    tableId: "byom", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "", idempotencyKey: "",
    rates: [{
      bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS,
      kind: { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({
        model: "own-sonnet", inputMicrosPerMillion: String(3 * USD), outputMicrosPerMillion: String(15 * USD),
        inputUsdMicrosPerMillion: String(3 * USD), outputUsdMicrosPerMillion: String(15 * USD),
      }) },
    }],
  });
  // Plans with no notification thresholds at all (set, and empty: a plan that sets none has the defaults).
  const none = entitlementsV1.NotificationThresholds.fromPartial({});
  await call(entitlements, entitlements.publishPlan, {
    actor: "test", reason: "", plan: entitlementsV1.Plan.fromPartial({ planId: "byom-quiet", name: "BYOM, no thresholds", rateTableId: "byom", thresholds: none }),
  });
  await call(entitlements, entitlements.publishPlan, {
    actor: "test", reason: "",
    plan: entitlementsV1.Plan.fromPartial({
      planId: "reloading", name: "Reloading", rateTableId: "default",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [commonV1.Bucket.BUCKET_AI] }],
      drawdownOrder: [entitlementsV1.PoolKind.POOL_KIND_ADD_ON],
      addOnPrices: [{ unit: commonV1.Unit.UNIT_CREDITS, usdMicrosPerUnit: String(0.01 * USD) }], // $0.01 a credit
      thresholds: none,
    }),
  });
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await smtp?.stop();
  await db?.drop();
});

describe("spend cap reached", () => {
  it("emails the admins and calls the webhook once when a BYOM account's cap is reached, even on a plan with no thresholds", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await createAccount({
      accountId: "capped", planId: "byom-quiet", billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD,
      spendCapMicros: String(1 * USD), adminEmails: ["owner@capped.example", "cfo@capped.example"],
    }, hook.url);
    const { ledger } = platform.clients;
    const charge = (key: string) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "capped", usage: tokens(100_000, 20_000), final: true, idempotencyKey: key }));
    await charge("c1"); // $0.60 of $1
    expect(await outbox("capped", "spend_cap_reached")).toBe(0);
    await charge("c2"); // $0.40 collected: the cap is reached
    await charge("c3"); // nothing more to collect; the cap was already reached

    const log = await delivered("capped", 3); // two admins by email, one webhook
    expect(log.every((n) => n.rule === "spend_cap_reached")).toBe(true);
    const mails = smtp.messages.filter((m) => JSON.stringify(m.to).includes("@capped.example"));
    expect(mails.map((m) => JSON.stringify(m.to)).sort()).toEqual([expect.stringContaining("cfo@capped.example"), expect.stringContaining("owner@capped.example")]);
    expect(mails[0]!.subject).toBe("Your AI spend cap is reached");
    expect(mails[0]!.text).toContain("has spent $1.00 of its $1.00 monthly AI spend cap");
    expect(hook.received).toMatchObject([{ type: "spend_cap.reached", data: { account_id: "capped", cap_micros: String(USD), spent_micros: String(USD) } }]);

    const events = (await eventsOf("capped")).filter((e) => e.kind?.$case === "spendCapReached");
    expect(events).toHaveLength(1);
    expect(events[0]!.kind).toMatchObject({ spendCapReached: { capMicros: String(USD), spentMicros: String(USD), cycle: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) } });
    await hook.stop();
  });
});

describe("add-on auto reload", () => {
  const grantAddOn = (accountId: string) =>
    call(platform.clients.ledger, platform.clients.ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_ADD_ON, unit: commonV1.Unit.UNIT_CREDITS,
      amountMicros: String(50 * CREDIT), reason: "add-on purchase", actor: "billing", idempotencyKey: `${accountId}-addon`,
      reloadBelowMicros: String(20 * CREDIT), reloadToMicros: String(50 * CREDIT), reloadCooldownMs: "3600000",
    }));
  const spend = (accountId: string, key: string, count: number) =>
    call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", count), final: true, idempotencyKey: key }));

  it("carries no price when the plan sets none", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await createAccount({ accountId: "unpriced", planId: "starter", adminEmails: [] }, hook.url);
    await grantAddOn("unpriced");
    await spend("unpriced", "u-1", 20);
    await spend("unpriced", "u-2", 8);
    const [event] = (await eventsOf("unpriced")).filter((e) => e.kind?.$case === "poolReloaded");
    expect(event?.kind).toMatchObject({ poolReloaded: { amountMicros: String(40 * CREDIT), price: undefined } });
    await eventually(async () => (hook.received.some((w) => w.type === "pool.reloaded") ? true : undefined), 10_000, "the reload webhook");
    const reload = hook.received.find((w) => w.type === "pool.reloaded")!;
    expect(reload.data).not.toHaveProperty("price_usd_micros");
    expect(reload.data).toMatchObject({ amount_micros: String(40 * CREDIT), unit: "credits" });
    await hook.stop();
  });

  it("sends each reload to the account's billing webhook once, with the pool, amount, unit and the plan's price", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await createAccount({ accountId: "reloader", planId: "reloading", adminEmails: ["admin@reloader.example"] }, hook.url);
    const addOn = await grantAddOn("reloader");
    await spend("reloader", "r-1", 20); // the monthly 100 credits are gone
    await spend("reloader", "r-2", 8); // add-on 50 → 10: below 20, reloads 40 credits

    const [event] = (await eventsOf("reloader")).filter((e) => e.kind?.$case === "poolReloaded");
    expect(event?.kind).toEqual({
      $case: "poolReloaded",
      poolReloaded: { poolId: addOn.poolId, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(40 * CREDIT), price: { usdMicros: String(0.4 * USD) } },
    });
    const [row] = await delivered("reloader", 1);
    expect(row).toMatchObject({ rule: "pool_reloaded", channel: N.Channel.CHANNEL_WEBHOOK });
    expect(hook.received).toEqual([{
      id: row!.notificationId,
      type: "pool.reloaded",
      data: expect.objectContaining({ account_id: "reloader", pool_id: addOn.poolId, unit: "credits", amount_micros: String(40 * CREDIT), price_usd_micros: String(0.4 * USD) }),
    }]);
    expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes("reloader.example"))).toHaveLength(0);

    // The whole feed read again from the start (a lost offset, a new replica): still one delivery.
    await platform.notifications.stop();
    await sql.query(`update notifications.consumer_offsets set sequence = 0`);
    platform.notifications = await startNotificationsService({
      databaseUrl: db.url, port: 0, poolMax: 4, ledgerAddress: platform.ledger.address, entitlementsAddress: platform.entitlements.address,
      smtpUrl: smtp.url, deliveryPollMs: 100, retryBaseMs: 50, maxAttempts: 5,
      webhookAllowedNetworks: ["127.0.0.0/8"], auth: platform.auth, ...platform.serviceCredentials("notifications"),
    });
    const last = Number((await sql.query<{ n: string }>(`select max(sequence)::text as n from ledger.outbox`)).rows[0]!.n);
    await eventually(async () => {
      const offset = (await sql.query<{ n: string }>(`select sequence::text as n from notifications.consumer_offsets`)).rows[0];
      return offset && Number(offset.n) >= last ? offset : undefined;
    }, 30_000, "the replayed feed");
    const deliveries = await sql.query(`select notification_id from notifications.deliveries where account_id = 'reloader'`);
    expect(deliveries.rows).toHaveLength(1);
    expect(hook.received).toHaveLength(1);
    await hook.stop();
  });

  it("stops the reload when support takes the purchase back, says so in the Adjust's answer and its replay, and buys nothing after", async () => {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "taken-back", name: "Taken back", planId: "starter", seats: 1,
    }));
    const addOn = await grantAddOn("taken-back");
    const { ledger } = platform.clients;
    const takeBack = () => call(ledger, ledger.adjust, {
      accountId: "taken-back", poolId: addOn.poolId, amountMicros: String(-40 * CREDIT), reason: "purchase refunded", actor: "support", idempotencyKey: "take-back",
    });
    expect(await takeBack()).toMatchObject({ reloadStopped: true });
    expect(await takeBack()).toMatchObject({ reloadStopped: true }); // the stored answer
    await spend("taken-back", "t-1", 1); // any call of the unit reloads a pool below its level: not this one
    expect((await eventsOf("taken-back")).filter((e) => e.kind?.$case === "poolReloaded")).toEqual([]);
    const pool = (await call(ledger, ledger.getBalance, { accountId: "taken-back" })).pools.find((p) => p.poolId === addOn.poolId);
    expect(pool).toMatchObject({ reloadBelowMicros: "0", reloadToMicros: "0" });
  });

  it("writes the pool's reload price with the pool, in the grant's transaction; a replayed grant changes no price", async () => {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "reprice", name: "Reprice", planId: "reloading", seats: 1,
    }));
    const addOn = await grantAddOn("reprice");
    const price = async () => (await sql.query<{ p: string | null }>(`select reload_price_usd_micros::text as p from ledger.pools where pool_id = $1`, [addOn.poolId])).rows[0]!.p;
    expect(await price()).toBe(String(0.01 * USD));
    await sql.query(`update ledger.pools set reload_price_usd_micros = 7 where pool_id = $1`, [addOn.poolId]);
    expect((await grantAddOn("reprice")).poolId).toBe(addOn.poolId);
    expect(await price()).toBe("7");
  });
});
