import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "@tollgate/gateway";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { call, ROLES } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;
const SECRET = "a-test-secret-that-is-long-enough-0123456789";

async function api(path: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const response = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? "GET",
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { "content-type": "application/json" } : {}) },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, traceId: response.headers.get("x-trace-id") };
}

const login = async (username: string, password: string) => (await api("/api/login", { method: "POST", body: { username, password } })).body.token as string;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "acme");
  gateway = await startGateway({
    databaseUrl: db.url,
    port: 0,
    secret: SECRET,
    users: "vera:viewer-pass:viewer,otto:operator-pass:operator,ada:admin-pass:admin",
    ...platform.serviceCredentials("gateway", ROLES),
    addresses: {
      entitlements: platform.entitlements.address,
      pricing: platform.pricing.address,
      ledger: platform.ledger.address,
      notifications: platform.notifications.address,
    },
  });
});

afterAll(async () => {
  await gateway?.stop();
  await platform?.stop();
  await db?.drop();
});

describe("console gateway", () => {
  it("needs a login, and refuses a wrong password", async () => {
    expect((await api("/api/accounts")).status).toBe(401);
    expect((await api("/api/login", { method: "POST", body: { username: "vera", password: "nope" } })).status).toBe(401);
    const viewer = await login("vera", "viewer-pass");
    expect((await api("/api/me", { token: viewer })).body).toEqual({ username: "vera", role: "viewer" });
    expect((await api("/api/accounts", { token: "forged" })).status).toBe(401);
  });

  it("shows an account with its balance, status icon, cycle metrics and banners", async () => {
    const viewer = await login("vera", "viewer-pass");
    await call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "acme", usage: replies("gpt-4o", 16), final: true, idempotencyKey: "spend-80",
    }));
    const list = await api("/api/accounts?q=acm", { token: viewer });
    expect(list.body.data.map((a: { id: string }) => a.id)).toEqual(["acme"]);
    const account = await api("/api/accounts/acme", { token: viewer });
    const credits = account.body.balance.units.find((u: { unit: string }) => u.unit === "credits");
    expect(credits).toMatchObject({ available_micros: "20000000", status_icon: "red" });
    expect(account.body.balance.cycle).toMatchObject({ will_run_out_before_cycle_end: true, projected_days_to_empty: 0 });
    expect(account.traceId).toMatch(/^[0-9a-f]*$/);
  });

  it("lets a viewer read but not grant, and writes nothing when refused", async () => {
    const viewer = await login("vera", "viewer-pass");
    const refused = await api("/api/accounts/acme/grants", { method: "POST", token: viewer, body: { pool_kind: "bonus", unit: "credits", amount: "500", reason: "goodwill" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.reason).toBe("ROLE_REQUIRED");
    expect((await api("/api/audit", { token: viewer })).body.data).toEqual([]);
  });

  it("lets an operator grant 500 bonus credits with a reason: balance, ledger entry and audit row agree", async () => {
    const operator = await login("otto", "operator-pass");
    const noReason = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "500" } });
    expect(noReason).toMatchObject({ status: 400, body: { error: { field: "reason" } } });
    const badAmount = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "5e2", reason: "goodwill" } });
    expect(badAmount).toMatchObject({ status: 400, body: { error: { field: "amount" } } });

    const granted = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "500", reason: "service outage on 21 Nov" } });
    expect(granted.status).toBe(200);
    expect(granted.body.balance_micros).toBe("520000000");

    const account = await api("/api/accounts/acme", { token: operator });
    expect(account.body.balance.pools.map((p: { kind: string; balance_micros: string }) => [p.kind, p.balance_micros])).toContainEqual(["bonus", "500000000"]);

    const entries = await api("/api/entries?account_id=acme&kind=grant", { token: operator });
    // The journal records the authenticated principal (the gateway) and the console user it acted for.
    expect(entries.body.data[0]).toMatchObject({ amount_micros: "500000000", reason: "service outage on 21 Nov", actor: "gateway", on_behalf_of: "otto" });

    const audit = await api("/api/audit?account_id=acme", { token: operator });
    expect(audit.body.data[0]).toMatchObject({ actor: "otto", role: "operator", action: "grant", reason: "service outage on 21 Nov", after: { balance_micros: "520000000" } });
    expect(audit.body.data[0].before.units[0].available_micros).toBe("20000000");
  });

  it("keeps plan changes for admins", async () => {
    const operator = await login("otto", "operator-pass");
    const admin = await login("ada", "admin-pass");
    expect((await api("/api/accounts/acme/plan", { method: "POST", token: operator, body: { plan_id: "starter", reason: "upgrade" } })).status).toBe(403);
    const changed = await api("/api/accounts/acme/plan", { method: "POST", token: admin, body: { plan_id: "starter", reason: "move to the latest version" } });
    expect(changed.status).toBe(200);
    expect((await api("/api/accounts/acme/plan", { method: "POST", token: admin, body: { plan_id: "missing", reason: "typo" } })).status).toBe(404);
  });
});

describe("limits and spend caps from the console", () => {
  it("lets an operator override the negative limit, and the ledger charges down to it", async () => {
    const operator = await login("otto", "operator-pass");
    const viewer = await login("vera", "viewer-pass");
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "overdraft", name: "Overdraft", planId: "starter", seats: 1 }));
    expect((await api("/api/accounts/overdraft/limits", { method: "POST", token: viewer, body: { unit: "credits", low_credit_limit: "0", negative_limit: "30", reason: "trusted customer" } })).status).toBe(403);
    const bad = await api("/api/accounts/overdraft/limits", { method: "POST", token: operator, body: { unit: "credits", low_credit_limit: "0", negative_limit: "-3", reason: "typo" } });
    expect(bad).toMatchObject({ status: 400, body: { error: { field: "negative_limit" } } });
    const set = await api("/api/accounts/overdraft/limits", { method: "POST", token: operator, body: { unit: "credits", low_credit_limit: "10", negative_limit: "30", reason: "trusted customer" } });
    expect(set.body.account.limit_overrides).toEqual([{ unit: "credits", low_credit_limit_micros: "10000000", negative_limit_micros: "30000000" }]);

    // 100 credits of allotment, then 150 credits of work: collected down to -30, the rest recorded as uncollected.
    const result = await call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "overdraft", usage: replies("gpt-4o", 30), final: true, idempotencyKey: "overdraft-150",
    }));
    expect(result).toMatchObject({ chargedMicros: "130000000", uncollectedMicros: "20000000", balanceMicros: "-30000000", proceed: false });
  });

  it("lets an operator set a BYOM account's spend cap, and the cycle's cap pool follows it", async () => {
    const operator = await login("otto", "operator-pass");
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "byom", name: "BYOM", planId: "starter", seats: 20, billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: "1000000",
    }));
    const capOf = async () => (await api("/api/accounts/byom", { token: operator })).body.balance.pools.find((p: { kind: string }) => p.kind === "spend_cap")?.granted_micros;
    expect(await capOf()).toBe("1000000");
    const raised = await api("/api/accounts/byom/spend-cap", { method: "POST", token: operator, body: { amount: "250", reason: "budget approved for Q4" } });
    expect(raised.body.account.spend_cap_micros).toBe("250000000");
    await eventually(async () => ((await capOf()) === "250000000" ? true : undefined), 3_000, "the ledger to follow the new cap");
    const wrongKind = await api("/api/accounts/acme/spend-cap", { method: "POST", token: operator, body: { amount: "10", reason: "not byom" } });
    expect(wrongKind).toMatchObject({ status: 400, body: { error: { field: "spend_cap_micros" } } });
  });
});
