import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, SignJWT } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startGateway, type Gateway } from "@tollgate/gateway";
import { buildServices } from "../scripts/build-services.js";
import { spawnService, stopProcesses } from "../scripts/services.js";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { Metadata } from "@grpc/grpc-js";
import { call, createClient, ON_BEHALF_OF, ROLES } from "@tollgate/grpc-kit";
import { startPricingService, type PricingService } from "@tollgate/pricing";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import { replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { scrape, value } from "./prometheus.js";
import { startWebhookReceiver } from "./sinks.js";

let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;
const SECRET = "a-test-secret-that-is-long-enough-0123456789";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

async function api(path: string, init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? "GET",
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { "content-type": "application/json" } : {}), ...init.headers },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, traceId: response.headers.get("x-trace-id") };
}

/** One request as raw bytes (what fetch refuses to send), and the answer's status and JSON body. */
function rawHttp(request: string, base = gateway.url): Promise<{ status: number; body: Record<string, any> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n");
      try {
        resolve({ status: Number(head.split(" ")[1]), body: JSON.parse(body) as Record<string, any> });
      } catch {
        reject(new Error(`not an answer in the API's shape: ${text.slice(0, 300)}`));
      }
    });
  });
}

const root = new URL("..", import.meta.url).pathname;

const login = async (username: string, password: string) => (await api("/api/login", { method: "POST", body: { username, password } })).body.token as string;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "acme");
  gateway = await startGateway({
    databaseUrl: db.url,
    port: 0,
    requestTimeoutMs: 3_000,
    secret: SECRET,
    users: "vera:viewer-pass:viewer,otto:operator-pass:operator,ada:admin-pass:admin,zoë:zoe-pass:operator",
    ...platform.serviceCredentials("gateway", ROLES),
    addresses: platform.addresses,
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

  it("counts every answer at /metrics by method, route template and status (RED for the console's API)", async () => {
    const token = await login("vera", "viewer-pass");
    await api("/api/me", { token });
    await api("/api/me", { token });
    await api("/api/accounts/acme", { token });
    await api("/api/me");
    const samples = await scrape(gateway.metrics.url);
    const count = (labels: Record<string, string>) => value(samples, "http_server_request_duration_count", labels);
    expect(count({ http_request_method: "GET", http_route: "/api/me", http_response_status_code: "200" })).toBeGreaterThanOrEqual(2);
    expect(count({ http_request_method: "GET", http_route: "/api/me", http_response_status_code: "401" })).toBeGreaterThanOrEqual(1);
    // By the route's template: an account's id never makes a series of its own.
    expect(count({ http_route: "/api/accounts/:id", http_response_status_code: "200" })).toBeGreaterThanOrEqual(1);
    expect(samples.some((sample) => JSON.stringify(sample).includes("/api/accounts/acme"))).toBe(false);
    // Beside /metrics, the probes: ready while it takes requests.
    expect((await fetch(gateway.metrics.url.replace("/metrics", "/readyz"))).status).toBe(200);
    expect((await fetch(gateway.metrics.url.replace("/metrics", "/healthz"))).status).toBe(200);
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
    // One charge a moment ago is no history to project from (the run-out rule wants a day and five charges).
    expect(account.body.balance.cycle).toMatchObject({ will_run_out_before_cycle_end: false, projected_days_to_empty: -1, run_out_at: null });
    expect(account.traceId).toMatch(/^[0-9a-f]*$/);
    // The usage chart: split by surface unless asked otherwise, an empty split_by included (it summed everything under "").
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "charted", name: "Charted", planId: "starter", seats: 1 }));
    for (const [key, surface] of [["web", commonV1.Surface.SURFACE_WEB], ["cli", commonV1.Surface.SURFACE_CLI]] as const) {
      await call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "charted", usage: replies("gpt-4o", 1), final: true, idempotencyKey: `charted-${key}`, attribution: commonV1.Attribution.fromPartial({ surface }),
      }));
    }
    const keys = async (query: string) => (await api(`/api/accounts/charted/usage${query}`, { token: viewer })).body.points.map((p: { key: string }) => p.key).sort();
    expect(await keys("")).toEqual(["cli", "web"]);
    // Given empty, a parameter is refused, not read as left out (a script's unset variable).
    expect(await api("/api/accounts/charted/usage?split_by=", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "split_by", message: expect.stringContaining("must not be empty") } } });
    expect(await keys("?split_by=bucket")).toEqual(["ai"]);
  });

  it("lets a viewer read but not grant, and writes nothing when refused", async () => {
    const viewer = await login("vera", "viewer-pass");
    const refused = await api("/api/accounts/acme/grants", { method: "POST", token: viewer, body: { pool_kind: "bonus", unit: "credits", amount: "500", reason: "goodwill" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.reason).toBe("ROLE_REQUIRED");
    expect(refused.body.error.message).toBe("POST /api/accounts/:id/grants needs the operator role; vera has the viewer role");
    // The console changed nothing: its log holds only the refused attempt, counted (the other rows are the services' audit of the setup's gRPC calls).
    const logged = (await api("/api/audit", { token: viewer })).body.data.filter((r: { source: string }) => r.source === "console");
    expect(logged.filter((r: { outcome: string }) => r.outcome === "OK")).toEqual([]);
    expect(logged.filter((r: { actor: string }) => r.actor === "vera")).toEqual([
      expect.objectContaining({ role: "viewer", action: "POST /api/accounts/:id/grants", account_id: "acme", outcome: "HTTP 403", count: 1 }),
    ]);
    // The first test's requests without a valid token, by address.
    expect(logged).toContainEqual(expect.objectContaining({ actor: "address:127.0.0.1", action: "GET /api/accounts", outcome: "HTTP 401" }));
    // A refused sign-in names the user it tried beside the address; a name that is no user's is not kept (it may be a password).
    expect(logged).toContainEqual(expect.objectContaining({ actor: "address:127.0.0.1 as vera", action: "POST /api/login", outcome: "HTTP 401" }));
    expect((await api("/api/login", { method: "POST", body: { username: "S3cr3t!pass", password: "x" } })).status).toBe(401);
    const unknown = (await api("/api/audit", { token: viewer })).body.data.filter((r: { action: string; actor: string }) => r.action === "POST /api/login");
    expect(unknown.map((r: { actor: string }) => r.actor)).toContain("address:127.0.0.1 as an unknown user");
    expect(JSON.stringify(unknown)).not.toContain("S3cr3t");
    // The role comes first: a viewer's body the action would refuse is still 403 (and audited as refused), not a 400 about the body.
    for (const [path, body] of [["/api/accounts/acme/grants", { bogus: 1 }], ["/api/rate-tables", { table_id: "x", rates: [], reason: "probe" }], ["/api/plans", "not an object"]] as const) {
      expect(await api(path, { method: "POST", token: viewer, body }), path).toMatchObject({ status: 403, body: { error: { reason: "ROLE_REQUIRED" } } });
    }
    // An id no account could have (3,000 characters, past what the log's index holds) is refused and recorded all the same, without it.
    expect(await api(`/api/accounts/${"x".repeat(3_000)}/preferences`, { token: "not-a-token" })).toMatchObject({ status: 401 });
    const refusedLong = (await api("/api/audit", { token: viewer })).body.data.filter((r: { action: string }) => r.action === "GET /api/accounts/:id/preferences");
    expect(refusedLong).toEqual([expect.objectContaining({ actor: "address:127.0.0.1", outcome: "HTTP 401", account_id: null, count: 1 })]);
  });

  it("shows a hold's newest 500 entries and says when it has earlier ones", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "long-hold", name: "long-hold", planId: "starter", seats: 1, adminEmails: [] }));
    await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "long-hold", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(10_000 * 1_000_000), reason: "a long run", idempotencyKey: "long-hold-grant",
    }));
    const { holdId } = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "long-hold", estimate: replies("gpt-4o", 1), idempotencyKey: "long-hold", ttlMs: "600000" }));
    const charge = (i: number) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "long-hold", holdId, usage: replies("gpt-4o", 1), final: false, idempotencyKey: `long-hold-${i}` }));
    // A back office's viewer token: signing in once more as a test user would pass the per-user sign-in limit later tests need.
    const viewer = await new SignJWT({ role: "viewer" }).setProtectedHeader({ alg: "HS256" }).setIssuer("tollgate-gateway").setAudience("tollgate-console")
      .setSubject("hold-viewer").setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
    for (let i = 0; i < 500; i++) await charge(i);
    expect((await api(`/api/holds/${holdId}`, { token: viewer })).body).toMatchObject({ entries: expect.any(Array), entries_more: false });
    await charge(500);
    const long = await api(`/api/holds/${holdId}`, { token: viewer });
    expect(long.body.entries).toHaveLength(500);
    expect(long.body.entries_more).toBe(true);
  }, 60_000);

  it("lets an operator grant 500 bonus credits with a reason: balance, ledger entry and audit row agree", async () => {
    const operator = await login("otto", "operator-pass");
    const noReason = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "500" } });
    expect(noReason).toMatchObject({ status: 400, body: { error: { field: "reason" } } });
    const badAmount = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "5e2", reason: "goodwill" } });
    expect(badAmount).toMatchObject({ status: 400, body: { error: { field: "amount" } } });
    // A JSON number with more significant digits than a double keeps (123456789.12345678) is refused, not granted as what arrived.
    const lossy = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
      method: "POST",
      headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
      body: '{"pool_kind":"bonus","unit":"credits","amount":123456789.12345678,"reason":"goodwill"}',
    });
    expect(lossy.status).toBe(400);
    // Beyond the platform's largest amount (which overflowed int64 into a 500 before): 400 naming it.
    const huge = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "9223372036855", reason: "goodwill" } });
    expect(huge).toMatchObject({ status: 400, body: { error: { field: "amount", message: "amount: must be at most 1000000000 in whole units" } } });
    expect(await lossy.json()).toMatchObject({ error: { field: "amount", message: expect.stringContaining("send it as a string") } });
    // A misspelt key is named, not ignored: these credits would otherwise never expire.
    const misspelt = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "500", expire_at: "2026-12-31T00:00:00Z", reason: "goodwill" } });
    expect(misspelt).toMatchObject({ status: 400, body: { error: { field: "expire_at", message: "expire_at: is not a field of this request (it takes reason, pool_kind, unit, amount, expires_at)" } } });
    const array = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: [{ pool_kind: "bonus", unit: "credits", amount: "500", reason: "goodwill" }] });
    expect(array).toMatchObject({ status: 400, body: { error: { field: "body", message: "body: must be a JSON object" } } });
    // Tool runs are whole counts: half a run is refused, granted or adjusted, and nothing is written.
    const halfRun = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "tool_runs", amount: "0.5", reason: "half a tool run" } });
    expect(halfRun).toMatchObject({ status: 400, body: { error: { field: "amount", message: expect.stringContaining("whole tool runs") } } });
    const runs = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "tool_runs", amount: "3", reason: "three tool runs" } });
    expect(runs.status).toBe(200);
    const adjustedHalf = await api("/api/accounts/acme/adjustments", { method: "POST", token: operator, body: { pool_id: runs.body.pool_id, amount: "-0.5", reason: "half a tool run" } });
    expect(adjustedHalf).toMatchObject({ status: 400, body: { error: { field: "amount", message: expect.stringContaining("whole tool runs") } } });
    const toolRunPools = (await api("/api/accounts/acme", { token: operator })).body.balance.pools.filter((p: { unit: string }) => p.unit === "tool_runs");
    expect(toolRunPools.map((p: { balance_micros: string }) => p.balance_micros)).toEqual(["3000000"]);

    const granted = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "500", reason: "service outage on 21 Nov" } });
    expect(granted.status).toBe(200);
    expect(granted.body.balance_micros).toBe("520000000");

    const account = await api("/api/accounts/acme", { token: operator });
    expect(account.body.balance.pools.map((p: { kind: string; balance_micros: string }) => [p.kind, p.balance_micros])).toContainEqual(["bonus", "500000000"]);

    // The same entries as CSV, for a spreadsheet: one line per entry, amounts also in whole units.
    const csv = await fetch(`${gateway.url}/api/entries.csv?account_id=acme`, { headers: { authorization: `Bearer ${operator}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.headers.get("content-disposition")).toBe('attachment; filename="entries-acme.csv"');
    const [header, ...rows] = (await csv.text()).trimEnd().split("\r\n");
    const listed = (await api("/api/entries?account_id=acme&page_size=500", { token: operator })).body.data as { id: string }[];
    expect(rows.map((row) => row.split(",")[0])).toEqual(listed.map((e) => e.id));
    const columns = header!.split(",");
    const grantRow = Object.fromEntries(columns.map((name, i) => [name, rows[0]!.split(",")[i]]));
    expect(grantRow).toMatchObject({ kind: "grant", amount: "500", amount_micros: "500000000", reason: "service outage on 21 Nov", on_behalf_of: "otto" });
    expect((await fetch(`${gateway.url}/api/entries.csv?account_id=acmee`, { headers: { authorization: `Bearer ${operator}` } })).status).toBe(404);
    expect((await fetch(`${gateway.url}/api/entries.csv?account_id=acme`)).status).toBe(401);
    // The scheme is case-insensitive.
    expect((await fetch(`${gateway.url}/api/entries.csv?account_id=acme`, { headers: { authorization: `bearer ${operator}` } })).status).toBe(200);
    // A mistyped account is not an empty history.
    for (const path of ["/api/audit?account_id=acmee", "/api/entries?account_id=acmee", "/api/holds?account_id=acmee", "/api/work?account_id=acmee", "/api/accounts/acmee/tools", "/api/accounts/acmee/member-usage", "/api/notifications?account_id=acmee"]) {
      expect(await api(path, { token: operator }), path).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND", reason: "ACCOUNT_NOT_FOUND" } } });
    }
    // An account with nothing in the list yet is an empty page, not 404.
    expect(await api("/api/notifications?account_id=acme&trace_id=0123456789abcdef0123456789abcdef", { token: operator })).toMatchObject({ status: 200, body: { data: [] } });
    const entries = await api("/api/entries?account_id=acme&kind=grant", { token: operator });
    // The journal records the authenticated principal (the gateway) and the console user it acted for.
    expect(entries.body.data[0]).toMatchObject({ amount_micros: "500000000", reason: "service outage on 21 Nov", actor: "gateway", on_behalf_of: "otto" });

    const audit = await api("/api/audit?account_id=acme", { token: operator });
    expect(audit.body.data[0]).toMatchObject({ actor: "otto", role: "operator", action: "grant", reason: "service outage on 21 Nov", after: { balance_micros: "520000000" } });
    expect(audit.body.data[0].before.units[0].available_micros).toBe("20000000");
  });

  it("lets an operator remove a budget with a reason (the budget id URL-encoded, however long its scope id), and answers a viewer 403, no reason 400, an unknown budget 404", async () => {
    const operator = await login("otto", "operator-pass");
    const viewer = await login("vera", "viewer-pass");
    const scopeId = `bot/${"x".repeat(250)}`; // the longest scope id SetBudget takes (256)
    const set = await api("/api/accounts/acme/budgets", { method: "POST", token: operator, body: { unit: "credits", scope: "agent", scope_id: scopeId, limit: "40", mode: "hard", reason: "cap the bot" } });
    expect(set.status).toBe(200);
    const path = `/api/accounts/acme/budgets/${encodeURIComponent(`credits/agent/${scopeId}`)}`;
    expect(await api(path, { method: "DELETE", token: viewer, body: { reason: "tidy" } })).toMatchObject({ status: 403, body: { error: { reason: "ROLE_REQUIRED" } } });
    expect(await api(path, { method: "DELETE", token: operator, body: {} })).toMatchObject({ status: 400, body: { error: { field: "reason" } } });
    const removed = await api(path, { method: "DELETE", token: operator, body: { reason: "bot retired" } });
    expect(removed).toMatchObject({ status: 200, body: { removed: { id: `credits/agent/${scopeId}`, scope_id: scopeId } } });
    expect(removed.body.audit_id).toBeTruthy();
    expect((await api("/api/accounts/acme", { token: viewer })).body.balance.budgets).toEqual([]);
    expect(await api(path, { method: "DELETE", token: operator, body: { reason: "again" } })).toMatchObject({ status: 404 });
  });

  it("refuses a budget's key reused on another account's budget of the same id (409), setting nothing there", async () => {
    const operator = await login("otto", "operator-pass");
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "budget-b", name: "Budget B", planId: "starter", seats: 1 }));
    const body = { unit: "credits", scope: "task", scope_id: "t1", limit: "5", mode: "hard", reason: "cap the task" };
    const first = await api("/api/accounts/acme/budgets", { method: "POST", token: operator, body, headers: { "idempotency-key": "budget-key-1" } });
    expect(first.status).toBe(200);
    const elsewhere = await api("/api/accounts/budget-b/budgets", { method: "POST", token: operator, body, headers: { "idempotency-key": "budget-key-1" } });
    expect(elsewhere).toMatchObject({ status: 409, body: { error: { reason: "IDEMPOTENCY_KEY_REUSED" } } });
    expect((await api("/api/accounts/budget-b", { token: operator })).body.balance.budgets).toEqual([]);
    expect((await api("/api/audit", { token: operator })).body.data.filter((row: { action: string }) => row.action === "set_budget").map((row: { target: string }) => row.target)).toContain("account:acme/budget:credits/task/t1");

    // A key whose action was refused for what was sent (no such account, a limit out of range) did nothing: the corrected
    // request may use it on another target. (It stayed claimed for a day, 409 IDEMPOTENCY_KEY_REUSED.)
    const typo = await api("/api/accounts/budget-typo/budgets", { method: "POST", token: operator, body, headers: { "idempotency-key": "budget-key-2" } });
    expect(typo.status).toBe(404);
    const negative = await api("/api/accounts/budget-b/budgets", { method: "POST", token: operator, body: { ...body, limit: "-5" }, headers: { "idempotency-key": "budget-key-2" } });
    expect(negative).toMatchObject({ status: 400, body: { error: { field: "limit" } } });
    const corrected = await api("/api/accounts/budget-b/budgets", { method: "POST", token: operator, body, headers: { "idempotency-key": "budget-key-2" } });
    expect(corrected.status).toBe(200);
    expect((await api("/api/accounts/budget-b", { token: operator })).body.balance.budgets.map((b: { id: string }) => b.id)).toEqual(["credits/task/t1"]);
    // Done under the key, the action keeps it: the key on another target is refused.
    expect(await api("/api/accounts/acme/budgets", { method: "POST", token: operator, body: { ...body, scope_id: "t2" }, headers: { "idempotency-key": "budget-key-2" } })).toMatchObject({ status: 409, body: { error: { reason: "IDEMPOTENCY_KEY_REUSED" } } });
    await api(`/api/accounts/budget-b/budgets/${encodeURIComponent("credits/task/t1")}`, { method: "DELETE", token: operator, body: { reason: "done with it" } });
    await api(`/api/accounts/acme/budgets/${encodeURIComponent("credits/task/t1")}`, { method: "DELETE", token: operator, body: { reason: "done with it" } });
  });

  it("answers a budget with malformed thresholds or per_cycle 400 naming the field, and sets nothing", async () => {
    const operator = await login("otto", "operator-pass");
    const budget = (fields: Record<string, unknown>) =>
      api("/api/accounts/acme/budgets", { method: "POST", token: operator, body: { unit: "credits", scope: "agent", scope_id: "shape-bot", limit: "40", mode: "soft", reason: "cap the bot", ...fields } });
    for (const thresholds of ["80", { 0: 80 }]) {
      expect(await budget({ threshold_percents: thresholds })).toMatchObject({ status: 400, body: { error: { field: "threshold_percents" } } });
    }
    // An item is named: not a whole number, or past any percent (it was "must be a list of whole numbers" for 1e10, which is one).
    expect(await budget({ threshold_percents: [50, 80.5] })).toMatchObject({ status: 400, body: { error: { field: "threshold_percents[1]", message: "threshold_percents[1]: must be a whole number" } } });
    expect(await budget({ threshold_percents: ["x"] })).toMatchObject({ status: 400, body: { error: { field: "threshold_percents[0]" } } });
    expect(await budget({ threshold_percents: [1e10] })).toMatchObject({ status: 400, body: { error: { field: "threshold_percents[0]", message: expect.stringContaining("out of range") } } });
    expect(await budget({ threshold_percents: [5000] })).toMatchObject({ status: 400, body: { error: { field: "threshold_percents[0]" } } });
    expect(await budget({ per_cycle: "yes" })).toMatchObject({ status: 400, body: { error: { field: "per_cycle" } } });
    expect((await api("/api/accounts/acme", { token: operator })).body.balance.budgets.map((b: { scope_id: string }) => b.scope_id)).not.toContain("shape-bot");
    const set = await budget({ threshold_percents: [50, 90], per_cycle: false });
    expect(set).toMatchObject({ status: 200, body: { budget: { scope_id: "shape-bot", threshold_percents: [50, 90], per_cycle: false } } });
    await api(`/api/accounts/acme/budgets/${encodeURIComponent("credits/agent/shape-bot")}`, { method: "DELETE", token: operator, body: { reason: "done with it" } });
  });

  it("answers a version, a diff bound or an audit page token that is not a whole number of an int64 400 naming it, not 500", async () => {
    const viewer = await login("vera", "viewer-pass");
    const cases: [path: string, field: string][] = [
      ["/api/rate-tables/default/abc", "version"],
      ["/api/rate-tables/default/99999999999999999999", "version"],
      ["/api/rate-tables/default/0", "version"],
      ["/api/plans/-1", "version"],
      ["/api/rate-tables/diff?table_id=default&from=abc&to=1", "from"],
      ["/api/rate-tables/diff?table_id=default&from=1&to=1.5", "to"],
      ["/api/audit?page_token=99999999999999999999999999.1", "page_token"],
    ];
    for (const [path, field] of cases) expect(await api(path, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { field } } });
    expect((await api("/api/rate-tables/default/1", { token: viewer })).status, "a real version still answers").toBe(200);
  });

  it("answers a page size or search limit past its bound 400 naming it, not 500 (3000000000 does not fit the int32 field)", async () => {
    const viewer = await login("vera", "viewer-pass");
    const cases: [path: string, field: string][] = [
      ["/api/accounts?page_size=3000000000", "page_size"],
      ["/api/entries?account_id=acme&page_size=501", "page_size"],
      ["/api/accounts/acme/tools?page_size=1e10", "page_size"],
      ["/api/audit?page_size=-1", "page_size"],
      ["/api/search?q=x&limit=1e10", "limit"],
      ["/api/search?q=x&limit=101", "limit"],
      // Only decimal digits: JavaScript would read these as numbers.
      ["/api/entries?account_id=acme&page_size=1e2", "page_size"],
      ["/api/entries?account_id=acme&page_size=0x10", "page_size"],
      ["/api/entries?account_id=acme&page_size=%2B5", "page_size"],
      ["/api/entries?account_id=acme&page_size=2.0", "page_size"],
      ["/api/entries?account_id=acme&page_size=%20", "page_size"],
    ];
    for (const [path, field] of cases) {
      expect(await api(path, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { status: 400, code: "INVALID_ARGUMENT", field, message: expect.stringContaining("from 0 to") } } });
    }
    expect((await api("/api/accounts?page_size=500", { token: viewer })).status, "the bound itself is allowed").toBe(200);
    expect((await api("/api/search?q=x&limit=100", { token: viewer })).status, "the bound itself is allowed").toBe(200);
  });

  it("answers a query parameter given twice 400 naming it, on every route (an attribution filter and the audit log's account included), not 500", async () => {
    const viewer = await login("vera", "viewer-pass");
    const cases: [path: string, field: string][] = [
      ["/api/search?q=a&q=b", "q"],
      ["/api/accounts?q=a&q=b", "q"],
      ["/api/entries?account_id=acme&account_id=other", "account_id"],
      ["/api/entries?account_id=acme&attr.user_id=a&attr.user_id=b", "attr.user_id"],
      ["/api/audit?account_id=acme&account_id=other", "account_id"],
      ["/api/holds?page_size=1&page_size=2", "page_size"],
      ["/api/accounts/acme/member-usage?unit=credits&unit=usd", "unit"],
    ];
    for (const [path, field] of cases) {
      expect(await api(path, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { status: 400, code: "INVALID_ARGUMENT", field, message: `${field}: must be given once` } } });
    }
    // Signing in comes first: without a token it is 401, whatever the query.
    expect((await api("/api/search?q=a&q=b")).status).toBe(401);
    // Text that is not percent-encoded UTF-8 is refused naming it, not searched for as written ("%ff"); an empty filter, not taken as none.
    expect(await api("/api/search?q=%ff", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "q", message: "q: is not percent-encoded UTF-8" } } });
    expect(await api("/api/accounts?q=caf%C3%A9+bar", { token: viewer }), "well-formed encoding, + as a space").toMatchObject({ status: 200 });
    expect(await api("/api/search?%ff=1", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "query" } } });
    expect(await api("/api/search?=%ff", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "query", message: "query: has a value without a parameter name" } } });
    // The router also starts a query at a `#` (no browser sends one): checked there too.
    expect(await rawHttp(`GET /api/search#q=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${viewer}\r\n\r\n`)).toMatchObject({ status: 400, body: { error: { field: "q" } } });
    expect(await api("/api/accounts?&q=acme&", { token: viewer }), "empty pairs are nothing").toMatchObject({ status: 200 });
    expect(await api("/api/entries?account_id=acme&attr.user_id=", { token: viewer })).toMatchObject({
      status: 400, body: { error: { field: "attr.user_id", message: expect.stringContaining("must not be empty") } },
    });
    // A range of when entries were recorded: from a moment on, before it, both; a backwards range and a time without offset are refused.
    const all = (await api("/api/entries?account_id=acme&page_size=500", { token: viewer })).body.data as { id: string; created_at: string }[];
    const newest = all[0]!;
    const ids = async (query: string) => ((await api(`/api/entries?account_id=acme&page_size=500&${query}`, { token: viewer })).body.data as { id: string }[]).map((e) => e.id);
    expect(await ids(`recorded_from=${newest.created_at}`)).toEqual(all.filter((e) => e.created_at >= newest.created_at).map((e) => e.id));
    expect(await ids(`recorded_before=${newest.created_at}`)).toEqual(all.filter((e) => e.created_at < newest.created_at).map((e) => e.id));
    expect(await ids(`recorded_from=2000-01-01T00:00:00Z&recorded_before=2000-01-02T00:00:00Z`)).toEqual([]);
    expect(await api(`/api/entries?account_id=acme&recorded_from=${newest.created_at}&recorded_before=${newest.created_at}`, { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "recorded_before" } } });
    expect(await api("/api/entries.csv?account_id=acme&recorded_from=2026-12-01", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "recorded_from" } } });
    // Given empty (a script's unset variable), a bound is refused, not left out: the export would be the whole ledger.
    expect(await api("/api/entries.csv?account_id=acme&recorded_from=", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "recorded_from", message: expect.stringContaining("must not be empty") } } });
    // Finer than the millisecond entries are recorded to, a bound would be cut and could move an entry across it.
    expect(await api("/api/entries?account_id=acme&recorded_before=2026-12-01T00:00:00.0105Z", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "recorded_before", message: expect.stringContaining("millisecond") } } });
    // A bare + in the offset arrives as a space: the refusal says how to write it.
    expect(await api("/api/entries?account_id=acme&recorded_from=2026-12-01T00:00:00+01:00", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "recorded_from", message: expect.stringContaining("%2B") } } });
    expect(await ids(`recorded_from=${encodeURIComponent(newest.created_at.replace("Z", "+00:00"))}`)).toEqual(all.filter((e) => e.created_at >= newest.created_at).map((e) => e.id));
    // A dimension named with quotes is refused naming it as sent, on the list and its CSV alike (it was an INTERNAL).
    for (const path of ["/api/entries", "/api/entries.csv"]) {
      expect(await api(`${path}?account_id=acme&attr.%22a%22b%22=x`, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { field: 'attr."a"b"' } } });
    }
    // A search box's text past what the services take is named as it was sent (q), not as they call it (query).
    for (const path of ["/api/accounts", "/api/search"]) {
      expect(await api(`${path}?q=${"x".repeat(257)}`, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { field: "q", message: "q: must be at most 256 characters" } } });
    }
  });

  it("answers a query parameter the route does not take 400 naming it and the ones it takes, instead of ignoring it", async () => {
    const viewer = await login("vera", "viewer-pass");
    const cases: [path: string, field: string, takes: string][] = [
      // A filter the list does not have would have listed everything.
      ["/api/notifications?status=failed", "status", "account_id, trace_id, page_size, page_token"],
      ["/api/entries?acount_id=acme", "acount_id", "account_id, hold_id, kind, recorded_from, recorded_before, attr.*, page_size, page_token"],
      ["/api/holds?account_id=acme&state=open", "state", "account_id, status, page_size, page_token"],
      ["/api/entries.csv?account_id=acme&page_size=10", "page_size", "account_id, hold_id, kind, recorded_from, recorded_before, attr.*"],
      ["/api/accounts/acme?expand=all", "expand", "none"],
      ["/api/accounts/acme/member-usage?units=usd", "units", "unit"],
      ["/api/search?q=x&constructor=1", "constructor", "q, limit"],
    ];
    for (const [path, field, names] of cases) {
      expect(await api(path, { token: viewer }), path).toMatchObject({
        status: 400,
        body: { error: { code: "INVALID_ARGUMENT", field, message: `${field}: is not a parameter of this request (it takes ${names})` } },
      });
    }
    // Attribution filters are any attr.<dimension>; the prefix alone names none.
    expect((await api("/api/entries?account_id=acme&attr.user_id=u-1", { token: viewer })).status).toBe(200);
    // A dimension the ledger does not know is named as the query names it.
    expect((await api("/api/entries?account_id=acme&attr.nope=x", { token: viewer })).body.error).toMatchObject({ status: 400, field: "attr.nope" });
    expect((await api(`/api/entries?account_id=acme&attr.user_id=${"u".repeat(300)}`, { token: viewer })).body.error).toMatchObject({ status: 400, field: "attr.user_id" });
    expect((await api("/api/audit?page_token=.", { token: viewer })).body.error).toMatchObject({ status: 400, field: "page_token" });
    expect(await api("/api/entries?account_id=acme&attr.=x", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "attr." } } });
    // More filters than the ledger takes at once are named as the query writes them all.
    const many = Array.from({ length: 20 }, (_, i) => `attr.d${i}=x`).join("&");
    expect((await api(`/api/entries?account_id=acme&${many}`, { token: viewer })).body.error).toMatchObject({ status: 400, field: "attr.*" });
    // A flag is true or false: "yes" is not read as false.
    expect(await api("/api/plans?all_versions=yes", { token: viewer })).toMatchObject({ status: 400, body: { error: { field: "all_versions", message: "all_versions: must be true or false" } } });
    expect((await api("/api/plans?all_versions=false", { token: viewer })).status).toBe(200);
  });

  it("answers a query parameter holding a NUL or another control character 400 naming it, not 500 (the audit log's account filter reaches PostgreSQL)", async () => {
    const viewer = await login("vera", "viewer-pass");
    const cases: [path: string, field: string][] = [
      ["/api/audit?account_id=%00", "account_id"],
      ["/api/audit?account_id=acme%00", "account_id"],
      ["/api/accounts?q=ac%0Ame", "q"],
      ["/api/search?q=%1b", "q"],
      ["/api/notifications?trace_id=%7f", "trace_id"],
    ];
    for (const [path, field] of cases) {
      expect(await api(path, { token: viewer }), path).toMatchObject({ status: 400, body: { error: { status: 400, code: "INVALID_ARGUMENT", field, message: `${field}: must not contain control characters` } } });
    }
    expect((await api("/api/audit?account_id=acme", { token: viewer })).status).toBe(200);
  });

  it("refuses a caller without the role before reading the body: malformed JSON, another content type or one too large is 403, not 400, 415 or 413", async () => {
    const viewer = await login("vera", "viewer-pass");
    const post = (body: string, type = "application/json") =>
      fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${viewer}`, "content-type": type }, body });
    for (const [body, type] of [["{bad", "application/json"], ["text", "text/plain"], ["x".repeat(300 * 1024), "application/json"]] as const) {
      const refused = await post(body, type);
      expect(refused.status, `${type} ${body.slice(0, 8)}`).toBe(403);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("PERMISSION_DENIED");
    }
    expect((await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { "content-type": "application/json" }, body: "{bad" })).status).toBe(401);
  });

  it("answers what would be dropped or reach a service malformed 400 naming it: a made-up page token, a prototype's name, a long id, a control character", async () => {
    const operator = await login("otto", "operator-pass");
    for (const token of ["garbage", "1", "-1"]) {
      expect(await api(`/api/accounts?page_token=${token}`, { token: operator }), token).toMatchObject({
        status: 400, body: { error: { field: "page_token", message: "page_token: is not a page token this service handed out" } },
      });
    }
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "zz-paging", name: "Paging", planId: "starter", seats: 1 }));
    const first = await api("/api/accounts?page_size=1", { token: operator });
    expect(first.body.next_page_token).not.toBe("");
    const second = await api(`/api/accounts?page_size=1&page_token=${first.body.next_page_token}`, { token: operator });
    expect(second.status).toBe(200);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
    expect(await api("/api/entries?account_id=acme&attr.__proto__=x", { token: operator })).toMatchObject({ status: 400, body: { error: { field: "attr.__proto__" } } });
    for (const length of [129, 900, 5_000]) {
      expect(await api(`/api/accounts/${"a".repeat(length)}`, { token: operator }), String(length)).toMatchObject({ status: 400, body: { error: { field: "account_id" } } });
    }
    expect(await api("/api/accounts/acme%0Aacme", { token: operator })).toMatchObject({ status: 400, body: { error: { field: "account_id" } } });
    const grant = (reason: string, headers: Record<string, string> = {}) =>
      api("/api/accounts/acme/grants", { method: "POST", token: operator, headers, body: { pool_kind: "bonus", unit: "credits", amount: "1", reason } });
    expect(await grant("a reason \u0085 with a C1 control")).toMatchObject({ status: 400, body: { error: { field: "reason" } } });
    expect(await grant("a plain reason", { "idempotency-key": "key\twith a tab" })).toMatchObject({ status: 400, body: { error: { field: "Idempotency-Key" } } });
    const budget = await api("/api/accounts/acme/budgets", { method: "POST", token: operator, body: { unit: "credits", scope: "user", scope_id: "u\u001b[2Jx", limit: "5", mode: "hard", reason: "a budget" } });
    expect(budget).toMatchObject({ status: 400, body: { error: { field: "scope_id" } } });
  });

  it("answers 408 and closes a request whose body never finishes, instead of holding it open", async () => {
    const { hostname, port } = new URL(gateway.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(Number(port), hostname, () =>
        socket.write('POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"user'),
      );
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("error", reject);
      socket.on("close", () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  }, 20_000);

  it("serves a console user whose name is not ASCII (zoë): every call answers, and the journal and audit name her", async () => {
    const zoe = await login("zoë", "zoe-pass");
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "umlaut", name: "Umlaut", planId: "starter", seats: 1 }));
    expect(await api("/api/accounts/umlaut", { token: zoe })).toMatchObject({ status: 200, body: { id: "umlaut" } });
    const granted = await api("/api/accounts/umlaut/grants", { method: "POST", token: zoe, body: { pool_kind: "bonus", unit: "credits", amount: "5", reason: "welcome gift" } });
    expect(granted.status).toBe(200);
    const entries = await api("/api/entries?account_id=umlaut&kind=grant", { token: zoe });
    expect(entries.body.data).toContainEqual(expect.objectContaining({ reason: "welcome gift", actor: "gateway", on_behalf_of: "zoë" }));
    const audit = await api("/api/audit?account_id=umlaut", { token: zoe });
    expect(audit.body.data).toContainEqual(expect.objectContaining({ source: "console", actor: "zoë", action: "grant" }));
    expect(audit.body.data).toContainEqual(expect.objectContaining({ source: "grpc", action: "Grant", on_behalf_of: "zoë" }));
  });

  it("answers a body field of the wrong kind 400 naming it, not 500, and changes nothing", async () => {
    const operator = await login("otto", "operator-pass");
    const balance = async () => (await api("/api/accounts/acme", { token: operator })).body.balance.units[0].balance_micros as string;
    const before = await balance();
    const grant = (patch: Record<string, unknown>) =>
      api("/api/accounts/acme/grants", { method: "POST", token: operator, body: { pool_kind: "bonus", unit: "credits", amount: "5", reason: "goodwill", ...patch } });
    // An object whose toString is not a function: String() of it threw, a 500.
    for (const field of ["pool_kind", "unit", "expires_at", "reason"]) {
      expect(await grant({ [field]: { toString: 1 } }), field).toMatchObject({ status: 400, body: { error: { field, message: `${field}: must be a string` } } });
    }
    expect(await grant({ amount: { toString: 1 } })).toMatchObject({ status: 400, body: { error: { field: "amount" } } });
    // An expiry that is not a date and time with its offset: 0 and false were no expiry, "2030" a guess.
    for (const expires_at of [0, false, "2030", "03/04/2027", "2026-12-31T00:00:00", "2027-02-30T00:00:00Z", "2027-12-31T24:00:00Z", "2027-12-31T00:00:00+24:00"]) {
      expect(await grant({ expires_at }), String(expires_at)).toMatchObject({ status: 400, body: { error: { field: "expires_at" } } });
    }
    expect(await grant({ expires_at: "2027-12-31T23:59:59.5+01:00" })).toMatchObject({ status: 200 });
    // Keys an object inherits are no fields either (they reached the type table: a 500).
    for (const key of ["constructor", "toString", "hasOwnProperty"]) {
      expect(await grant({ [key]: "x" }), key).toMatchObject({ status: 400, body: { error: { field: key, message: expect.stringContaining("is not a field of this request") } } });
    }
    // JSON's null is not a body.
    const nullBody = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" }, body: "null" });
    expect({ status: nullBody.status, body: await nullBody.json() }).toMatchObject({ status: 400, body: { error: { field: "body" } } });

    const limits = (patch: Record<string, unknown>) =>
      api("/api/accounts/acme/limits", { method: "POST", token: operator, body: { unit: "credits", work_kind: "guardrail", low_credit_limit: "0", negative_limit: "0", reason: "tighter", ...patch } });
    expect(await limits({ drafts_at_zero: "true" })).toMatchObject({ status: 400, body: { error: { field: "drafts_at_zero", message: "drafts_at_zero: must be true or false" } } });
    expect(await limits({ stop_message: { a: 1 } })).toMatchObject({ status: 400, body: { error: { field: "stop_message" } } });
    // What only a kind of work's limits do, on the unit's: refused by entitlements, not dropped.
    expect(await limits({ work_kind: "", stop_message: "no more" })).toMatchObject({ status: 400, body: { error: { field: "stop_message", message: expect.stringContaining("set work_kind") } } });
    expect((await api("/api/accounts/acme", { token: operator })).body.limit_overrides).toEqual([]);
    // A service's refusal names the body's field, not the field of the service's request (limits[0].negative_limit_micros, page.page_token).
    expect(await limits({ negative_limit: "1000000000" })).toMatchObject({ status: 400, body: { error: { field: "negative_limit" } } });
    expect(await api("/api/entries?account_id=acme&page_token=abc", { token: operator })).toMatchObject({ status: 400, body: { error: { field: "page_token" } } });

    // A reason no service sees (a banner's dismissal) is checked here: a NUL reached the audit insert after the change.
    const nul = await api("/api/banners/1/dismiss", { method: "POST", token: operator, body: { reason: "seen it\u0000" } });
    expect(nul).toMatchObject({ status: 400, body: { error: { field: "reason", message: expect.stringContaining("control characters") } } });
    const long = await api("/api/banners/1/dismiss", { method: "POST", token: operator, body: { reason: "x".repeat(1025) } });
    expect(long).toMatchObject({ status: 400, body: { error: { field: "reason", message: "reason: must be at most 1024 characters" } } });

    // A sign-in body whose fields are not text, or missing, is 400 naming the field (they were a 500 before any check), tried on no password.
    for (const [body, field] of [[{ username: { toString: 1 }, password: "x" }, "username"], [{ username: "otto", password: { toString: 1 } }, "password"], [{ username: "otto" }, "password"], [["otto"], "body"]] as const) {
      expect(await api("/api/login", { method: "POST", body }), JSON.stringify(body)).toMatchObject({ status: 400, body: { error: { code: "INVALID_ARGUMENT", field } } });
    }
    expect(await api("/api/login", { method: "POST", body: { username: "otto", password: "" } })).toMatchObject({ status: 401, body: { error: { reason: "LOGIN_FAILED" } } });
    // A sign-in body is small: a 256 KiB user name, sent again and again, would have filled the limiter's memory.
    expect((await api("/api/login", { method: "POST", body: { username: "u".repeat(5000), password: "x" } })).status).toBe(413);
  });

  it("keeps an Idempotency-Key to its user: another user's same key is another action, with its own audit row", async () => {
    const body = { pool_kind: "bonus", unit: "credits", amount: "2", reason: "shared key" };
    const operator = await login("otto", "operator-pass");
    const admin = await login("ada", "admin-pass");
    const first = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body, headers: { "idempotency-key": "shared-key-1" } });
    const again = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body, headers: { "idempotency-key": "shared-key-1" } });
    expect(again.body).toEqual(first.body);
    // The admin's key of the same name was replayed the operator's grant and audited as the admin's, who had changed nothing.
    const other = await api("/api/accounts/acme/grants", { method: "POST", token: admin, body, headers: { "idempotency-key": "shared-key-1" } });
    expect(other.status).toBe(200);
    // A key past the 128 characters API.md promises is refused before anything is done.
    const long = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body, headers: { "idempotency-key": "k".repeat(129) } });
    expect(long).toMatchObject({ status: 400, body: { error: { field: "Idempotency-Key", message: "Idempotency-Key: must be at most 128 characters" } } });
    expect(other.body.entry_id).not.toBe(first.body.entry_id);
    expect(other.body.audit_id).not.toBe(first.body.audit_id);
    expect(BigInt(other.body.balance_micros) - BigInt(first.body.balance_micros)).toBe(2_000_000n);

    // One key sent at once to grant on two accounts: one grant is made (its requests replay it), the others refused before
    // anything is done. (Each passed the target check, made on audit rows written after the action, and both were granted.)
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "raced", name: "Raced", planId: "starter", seats: 1 }));
    const credits = async (account: string) => BigInt((await api(`/api/accounts/${account}`, { token: operator })).body.balance.units[0].balance_micros);
    const before = (await credits("acme")) + (await credits("raced"));
    const raced = await Promise.all(["acme", "raced", "acme", "raced", "acme", "raced"].map((account) =>
      api(`/api/accounts/${account}/grants`, { method: "POST", token: operator, body, headers: { "idempotency-key": "raced-key-1" } }),
    ));
    const granted = raced.filter((answer) => answer.status === 200);
    expect(new Set(granted.map((answer) => answer.body.entry_id)).size).toBe(1);
    expect(raced.filter((answer) => answer.status !== 200).map((answer) => [answer.status, answer.body.error.reason])).toEqual(
      Array.from({ length: 6 - granted.length }, () => [409, "IDEMPOTENCY_KEY_REUSED"]),
    );
    expect((await credits("acme")) + (await credits("raced")) - before).toBe(2_000_000n);

    // An action audited by a gateway from before keys were the user's sent the key as it came (and its row holds it so):
    // its retry after the upgrade sends that key again, so the ledger replays the grant rather than granting twice.
    // The older gateway's call: its credential, for otto, the key as sent.
    const asGateway = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, platform.serviceCredentials("gateway", ROLES));
    const forOtto = new Metadata();
    forOtto.set(ON_BEHALF_OF, "otto");
    const legacy = await new Promise<ledgerV1.GrantResponse>((resolve, reject) =>
      asGateway.grant(
        ledgerV1.GrantRequest.fromPartial({
          accountId: "acme", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "2000000", reason: "shared key", actor: "otto", idempotencyKey: "legacy-key-1",
        }),
        forOtto,
        (error, response) => (error ? reject(error) : resolve(response!)),
      ),
    ).finally(() => asGateway.close());
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(
        `insert into gateway.audit_log (actor, role, action, target, account_id, reason, before, after, trace_id, idempotency_key, created_at)
         values ('otto', 'operator', 'grant', 'account:acme', 'acme', 'shared key', null, $1, '', 'legacy-key-1', now())`,
        [JSON.stringify({ pool_id: legacy.poolId, entry_id: legacy.entryId, balance_micros: legacy.balanceMicros })],
      );
    } finally {
      await sql.end();
    }
    const retried = await api("/api/accounts/acme/grants", { method: "POST", token: operator, body, headers: { "idempotency-key": "legacy-key-1" } });
    expect(retried).toMatchObject({ status: 200, body: { entry_id: legacy.entryId, pool_id: legacy.poolId } });
    expect((await api("/api/accounts/acme", { token: operator })).body.balance.units[0].balance_micros).toBe(legacy.balanceMicros);
  });

  it("refuses a plan whose rate table has no version in effect, to publish or to move an account to, naming the field", async () => {
    const { entitlements } = platform.clients;
    // The gRPC API takes it (a catalogue may publish plans first); the console, where a support person would break an account's charges, does not.
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({ planId: "unpriced", name: "Unpriced", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "1000000" }], rateTableId: "no-such-rates" }),
      actor: "test", reason: "test", idempotencyKey: "",
    });
    const admin = await login("ada", "admin-pass");
    const moved = await api("/api/accounts/acme/plan", { method: "POST", token: admin, body: { plan_id: "unpriced", reason: "try it" } });
    expect(moved).toMatchObject({ status: 409, body: { error: { code: "FAILED_PRECONDITION", reason: "RATE_TABLE_NOT_IN_EFFECT", field: "plan_id", message: expect.stringContaining("no-such-rates") } } });
    expect((await api("/api/accounts/acme", { token: admin })).body.plan_id).toBe("starter");
    const published = await api("/api/plans", { method: "POST", token: admin, body: { plan: { planId: "unpriced-2", name: "Unpriced", rateTableId: "no-such-rates" }, reason: "try it" } });
    expect(published).toMatchObject({ status: 409, body: { error: { reason: "RATE_TABLE_NOT_IN_EFFECT", field: "plan.rateTableId" } } });
    expect((await call(entitlements, entitlements.getPlan, { planId: "unpriced-2", version: "0" }).catch((e: unknown) => e)) as { code?: number }).toMatchObject({ code: 5 });
    expect(await api("/api/accounts/acme/plan", { method: "POST", token: admin, body: { plan_id: "no-such-plan", reason: "try it" } })).toMatchObject({ status: 404 });
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

    // A unit's negative limit lowered below a kind of work's override is refused naming the body's negative_limit, not a `limits` the body does not have.
    const guardrail = await api("/api/accounts/overdraft/limits", { method: "POST", token: operator, body: { unit: "credits", work_kind: "guardrail", low_credit_limit: "1", negative_limit: "20", reason: "guardrails may go deeper" } });
    expect(guardrail.status).toBe(200);
    const lowered = await api("/api/accounts/overdraft/limits", { method: "POST", token: operator, body: { unit: "credits", low_credit_limit: "5", negative_limit: "10", reason: "less trust" } });
    expect(lowered).toMatchObject({ status: 400, body: { error: { field: "negative_limit", message: expect.stringContaining("guardrail negative limit (20 credits)") } } });
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
    // Named as the body names it (entitlements' spend_cap_micros is this route's amount).
    expect(wrongKind).toMatchObject({ status: 400, body: { error: { field: "amount", message: expect.stringContaining("bring-your-own-model") } } });
    // 0 too: it was taken and audited as a change of nothing; now the audit log records one more refusal.
    const capRows = async () => ((await api("/api/audit?account_id=acme&page_size=500", { token: operator })).body.data as { action: string; outcome: string }[]).filter((r) => r.action === "SetAccountControls");
    const before = await capRows();
    const zero = await api("/api/accounts/acme/spend-cap", { method: "POST", token: operator, body: { amount: "0", reason: "not byom" } });
    expect(zero).toMatchObject({ status: 400, body: { error: { field: "amount", message: expect.stringContaining("bring-your-own-model") } } });
    const after = await capRows();
    expect(after).toHaveLength(before.length + 1);
    expect(after[0]).toMatchObject({ outcome: "INVALID_ARGUMENT" });
  });
});

describe("gateway hardening", () => {
  let hardened: Gateway;
  const origin = "https://console.example";

  beforeAll(async () => {
    const staticDir = mkdtempSync(join(tmpdir(), "tollgate-static-"));
    writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>console</title>");
    writeFileSync(join(staticDir, ".env"), "GATEWAY_SECRET=do-not-serve");
    mkdirSync(join(staticDir, "assets"));
    writeFileSync(join(staticDir, "assets", "index-3f2a9c.js"), "console.log(1)");
    hardened = await startGateway({
      databaseUrl: db.url,
      port: 0,
      secret: SECRET,
      // Sign-in counters are shared by every gateway on the database: the limit tests sign in as users no other test uses.
      users: "vera:viewer-pass:viewer,otto:operator-pass:operator,ada:admin-pass:admin,ida:ida-pass:viewer,hana:hana-pass:admin,olly:olly-pass:operator,tess:tess-pass:operator",
      staticDir,
      corsOrigins: [origin],
      loginLimits: { perUser: 3, perAddress: 5, windowMs: 600_000 },
      // Shorter than the 12 hours a sign-in gives by default.
      maxTokenHours: 8,
      addresses: platform.addresses,
    });
  });

  afterAll(async () => {
    await hardened?.stop();
  });

  /** A POST to the hardened gateway's login from a given loopback address (all of 127.0.0.0/8 is local). */
  function loginFrom(
    localAddress: string, username: string, password: string, via: { gateway?: Gateway; forwardedFor?: string } = {},
  ): Promise<{ status: number; retryAfter: string | undefined; body: Record<string, any> }> {
    const url = new URL("/api/login", (via.gateway ?? hardened).url);
    const headers = { "content-type": "application/json", ...(via.forwardedFor ? { "x-forwarded-for": via.forwardedFor } : {}) };
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", localAddress, headers }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, retryAfter: res.headers["retry-after"], body: JSON.parse(text) as Record<string, any> }));
      });
      req.on("error", reject);
      req.end(JSON.stringify({ username, password }));
    });
  }

  it("answers the framework's own errors with their 4xx status, and logs none of them as a fault", async () => {
    const errors = vi.spyOn(process.stdout, "write");
    try {
      const token = await login("otto", "operator-pass");
      const malformed = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{\"pool_kind\": ",
      });
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toMatchObject({ error: { code: "INVALID_ARGUMENT", field: "body", message: expect.stringContaining("is not valid JSON") } });
      // A key that would poison an object it is merged into is named, not called malformed JSON; nothing is granted.
      for (const body of ['{"amount": "5", "reason": "x", "__proto__": {"admin": true}}', '{"amount": "5", "reason": "x", "constructor": {"prototype": {}}}']) {
        const poisoned = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
          method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": `poison-${body.length}` }, body,
        });
        expect(await poisoned.json()).toMatchObject({ error: { status: 400, field: "body", message: expect.stringContaining('"__proto__"') } });
      }
      // A key given twice in one object: which amount counts depends on the reader, so it is refused naming the key; nothing is granted.
      const balanceBefore = (await api("/api/accounts/acme", { token })).body.balance.units[0].balance_micros as string;
      const twice = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": "twice" },
        body: '{"pool_kind": "bonus", "unit": "credits", "amount": "5", "reason": "x", "amount": "5000"}',
      });
      expect(await twice.json()).toMatchObject({ error: { status: 400, field: "amount", message: expect.stringContaining("given twice") } });
      expect((await api("/api/accounts/acme", { token })).body.balance.units[0].balance_micros).toBe(balanceBefore);
      // An escaped lone surrogate would be stored as U+FFFD; nesting JSON.parse takes but no document needs (thousands of levels
      // overflowed the duplicate-key walk: a 500, signed in or not) is refused.
      const lone = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: '{"pool_kind": "bonus", "unit": "credits", "amount": "5", "reason": "caf\\udce9"}' });
      expect(await lone.json()).toMatchObject({ error: { status: 400, field: "reason", message: expect.stringContaining("lone surrogate") } });
      for (const [path, levels] of [["/api/accounts/acme/grants", 20_000], ["/api/login", 2_000]] as const) {
        const deep = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "[".repeat(levels) + "]".repeat(levels) });
        expect([deep.status, await deep.json()], path).toEqual([400, { error: expect.objectContaining({ field: "body", message: "body: nests deeper than 64 levels" }) }]);
      }
      // A JSON number is read as written: one a double does not hold exactly is refused, not rounded into another amount.
      const rounded = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: '{"pool_kind": "bonus", "unit": "credits", "amount": 1.0000000000000001, "reason": "rounding"}' });
      expect(await rounded.json()).toMatchObject({ error: { status: 400, field: "amount", message: expect.stringContaining("send it as a string") } });
      // A byte order mark before the JSON is taken, as Fastify's own reader took it (the body is then read as usual: here, a bad amount).
      const marked = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: '\uFEFF{"pool_kind": "bonus", "unit": "credits", "amount": "zero", "reason": "x"}' });
      expect(await marked.json()).toMatchObject({ error: { status: 400, field: "amount" } });
      const nothing = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "null" });
      expect(await nothing.json()).toMatchObject({ error: { status: 400, field: "body", message: "body: must be a JSON object" } });
      // An Idempotency-Key given twice (Node would join them into "a, b"), or in letters outside ASCII (they arrive as other bytes): 400, nothing granted.
      const grantWith = (keys: string) => {
        const body = JSON.stringify({ pool_kind: "bonus", unit: "credits", amount: "5", reason: "a key test" });
        return rawHttp(`POST /api/accounts/acme/grants HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${keys}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      };
      // Two Authorization headers (Node would keep the first): neither counts.
      const twoTokens = await rawHttp(`GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      expect(twoTokens).toMatchObject({ status: 401, body: { error: { reason: "AUTHORIZATION_REPEATED" } } });
      expect(await grantWith("Idempotency-Key: a\r\nIdempotency-Key: b\r\n")).toMatchObject({ status: 400, body: { error: { field: "Idempotency-Key", message: "Idempotency-Key: must be given once" } } });
      // Two Content-Type headers (Node would keep the first): 400 before the body is read, nothing granted.
      expect(await grantWith("Content-Type: text/plain\r\n")).toMatchObject({ status: 400, body: { error: { field: "Content-Type", message: "Content-Type: must be given once" } } });
      expect(await grantWith("Idempotency-Key: ключ\r\n")).toMatchObject({ status: 400, body: { error: { field: "Idempotency-Key", message: expect.stringContaining("printable ASCII") } } });
      const empty = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } });
      expect(await empty.json()).toMatchObject({ error: { status: 400, field: "body", message: expect.stringContaining("is empty") } });
      // A path that takes other methods: 405 saying which, not "no such route".
      const wrongMethod = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "GET", headers: { authorization: `Bearer ${token}` } });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get("allow")).toBe("POST, OPTIONS");
      expect(await wrongMethod.json()).toMatchObject({ error: { status: 405, code: "METHOD_NOT_ALLOWED" } });
      // A long path parameter (a budget id is up to 512 characters) is matched as the routes match it.
      const longId = await fetch(`${gateway.url}/api/accounts/acme/budgets/${"b".repeat(600)}`, { method: "GET", headers: { authorization: `Bearer ${token}` } });
      expect(longId.status).toBe(405);
      expect(longId.headers.get("allow")).toBe("DELETE, OPTIONS");
      // OPTIONS, with no CORS origin configured, lists what the path takes.
      const options = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "OPTIONS" });
      expect([options.status, options.headers.get("allow")]).toEqual([204, "POST, OPTIONS"]);
      expect((await fetch(`${gateway.url}/api/no-such-thing`, { method: "OPTIONS" })).status).toBe(404);
      const deleted = await fetch(`${gateway.url}/api/accounts/acme`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
      expect(deleted.status).toBe(405);
      expect(deleted.headers.get("allow")).toContain("GET");
      const large = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ reason: "x".repeat(300 * 1024) }),
      });
      expect(large.status).toBe(413);
      const unsupported = await fetch(`${gateway.url}/api/login`, { method: "POST", headers: { "content-type": "application/xml" }, body: "<login/>" });
      expect(unsupported.status).toBe(415);
      const undecodable = await api("/api/accounts/%ff", { token });
      expect(undecodable).toMatchObject({ status: 400, body: { error: { status: 400, code: "INVALID_ARGUMENT", field: "path" } } });
      // Bytes that are not UTF-8 are refused, not read as U+FFFD into a reason that is then stored.
      const latin1 = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: Buffer.concat([Buffer.from('{"pool_kind": "bonus", "unit": "credits", "amount": "5", "reason": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
      });
      expect(await latin1.json()).toMatchObject({ error: { status: 400, field: "body", message: "body: is not valid UTF-8" } });
      // What Node's HTTP parser refuses before any route answers in the API's shape too.
      const overflow = await rawHttp(`GET /api/entries?account_id=acme&q=${"x".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(overflow).toMatchObject({ status: 431, body: { error: { status: 431, code: "HEADERS_TOO_LARGE", message: expect.stringContaining("16 KB") } } });
      const controlled = await rawHttp(`GET /api/plans HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n`);
      expect(controlled).toMatchObject({ status: 400, body: { error: { status: 400, code: "INVALID_ARGUMENT", message: expect.stringContaining("not valid HTTP") } } });
      const plain = await fetch(`${gateway.url}/api/accounts/acme/grants`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "reason=x" });
      expect(plain.status).toBe(415);
      const numbered = await api("/api/accounts/acme/reversals", { method: "POST", token, body: { entry_id: 1.5, reason: "a wrong charge" } });
      expect(numbered).toMatchObject({ status: 400, body: { error: { field: "entry_id", message: expect.stringContaining("must be a string") } } });

      const page = await fetch(`${hardened.url}/`);
      expect(page.status).toBe(200);
      // The page is asked for again each time; the assets it names, by their content's hash, are kept for good.
      expect(page.headers.get("cache-control")).toBe("no-cache");
      expect((await fetch(`${hardened.url}/assets/index-3f2a9c.js`)).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      // The console is never framed by another site, its files never sniffed, no referrer leaves it.
      expect(Object.fromEntries(["x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"].map((h) => [h, page.headers.get(h)]))).toEqual({
        "x-content-type-options": "nosniff", "x-frame-options": "DENY", "content-security-policy": expect.stringContaining("frame-ancestors 'none'"), "referrer-policy": "no-referrer",
      });
      // Scripts only from the gateway's own files: nothing inline, nothing from elsewhere (the browser test checks an injected one does not run).
      const policy = Object.fromEntries(page.headers.get("content-security-policy")!.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
      expect(policy).toMatchObject({ "default-src": "'self'", "script-src": "'self'", "connect-src": "'self'", "object-src": "'none'", "base-uri": "'none'" });
      // A dotfile is not there, for all anyone asking can tell; paths outside the console are refused.
      expect(await fetch(`${hardened.url}/.env`).then(async (r) => ({ status: r.status, body: await r.json() }))).toMatchObject({ status: 404, body: { error: { reason: "ROUTE_NOT_FOUND" } } });
      // A path that leaves the console's files is no file: 404 in the API's shape (it was a bare 403 "Forbidden").
      for (const path of ["/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/x/..%2findex.html"]) {
        const answer = await fetch(`${hardened.url}${path}`);
        expect([answer.status, await answer.json()], path).toEqual([404, { error: expect.objectContaining({ reason: "ROUTE_NOT_FOUND" }) }]);
      }
      // Sent as written (fetch would fold the dot segment away).
      expect(await rawHttp(`GET /api/./me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, hardened.url)).toMatchObject({ status: 404, body: { error: { reason: "ROUTE_NOT_FOUND" } } });
      expect([400, 404], "/%00").toContain((await fetch(`${hardened.url}/%00`)).status);
      // Refused files are nobody's refused sign-in or role: the audit log (shared by both gateways) counts none of them.
      const audited = (await api("/api/audit?page_size=500", { token })).body.data as { action: string }[];
      expect(audited.filter((r) => r.action.startsWith("GET /*"))).toEqual([]);
      // Doubled slashes name the same route, behind the same sign-in (they were a console file's 403).
      expect((await fetch(`${hardened.url}//api//accounts`)).status).toBe(401);
      expect((await api("//api/accounts/acme", { token })).body).toMatchObject({ id: "acme" });
      expect((await fetch(`${gateway.url}//api/accounts/acme`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } })).headers.get("allow")).toContain("GET");
      const unknown = await api("/api/no-such-thing", { token });
      expect(unknown).toMatchObject({ status: 404, body: { error: { status: 404, code: "NOT_FOUND", reason: "ROUTE_NOT_FOUND" } } });
      // Its body is not read: thousands of levels of nesting, or text that is no JSON, on an unknown path or a method the path
      // does not take, are 404 and 405 (they were parsed first, and refused 400).
      for (const body of ["[".repeat(20_000) + "]".repeat(20_000), "{not json"]) {
        const posted = (path: string) => fetch(`${gateway.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
        expect((await posted("/no-such-route")).status).toBe(404);
        expect((await posted("/api/no-such-thing")).status).toBe(404);
        expect((await posted("/api/accounts/acme")).status).toBe(405);
      }
      // A body announced but not sent (100 MB) is not waited for: 404, and the connection closes (rawHttp ends on its close).
      expect(await rawHttp(`POST /no-such-route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"a":`)).toMatchObject({ status: 404 });
      expect(await api("/api/accounts/", { token })).toMatchObject({ status: 400, body: { error: { field: "id", message: "id: must not be empty" } } });
      expect(errors.mock.calls.filter((args) => String(args[0]).includes('"level":"error"'))).toEqual([]);
    } finally {
      errors.mockRestore();
    }
  });

  it("refuses a token without an expiry, one that lives too long, or one not issued for the console, even signed with the right secret", async () => {
    const key = new TextEncoder().encode(SECRET);
    const consoleToken = () => new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setIssuer("tollgate-gateway").setAudience("tollgate-console");
    const forever = await consoleToken().setSubject("ada").setIssuedAt().sign(key);
    const refused = await api("/api/me", { token: forever });
    expect(refused).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_INVALID" } } });
    const expiring = await consoleToken().setSubject("ada").setIssuedAt().setExpirationTime("5m").sign(key);
    expect((await api("/api/me", { token: expiring })).body).toEqual({ username: "ada", role: "admin" });
    // Nor one that lives longer than GATEWAY_MAX_TOKEN_HOURS (24 by default): a leaked token stops working in bounded time.
    const decade = await consoleToken().setSubject("ada").setIssuedAt().setExpirationTime("3650d").sign(key);
    expect(await api("/api/me", { token: decade })).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_INVALID" } } });
    const day = await consoleToken().setSubject("ada").setIssuedAt().setExpirationTime("23h").sign(key);
    expect((await api("/api/me", { token: day })).status).toBe(200);
    // Nor one naming nobody, or a name with a control character (it is recorded as whom actions were for).
    for (const subject of ["", "ada\u0000", "ada\nadmin"]) {
      const nameless = await consoleToken().setSubject(subject).setIssuedAt().setExpirationTime("5m").sign(key);
      expect(await api("/api/me", { token: nameless }), JSON.stringify(subject)).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_INVALID" } } });
    }
    // Nor one signed with the secret for another audience or by another issuer, or with neither named.
    for (const [issuer, audience] of [["tollgate-gateway", "billing-export"], ["someone-else", "tollgate-console"], ["", ""]] as const) {
      let other = new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("ada").setIssuedAt().setExpirationTime("5m");
      if (issuer) other = other.setIssuer(issuer).setAudience(audience);
      expect(await api("/api/me", { token: await other.sign(key) }), `${issuer} ${audience}`).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_INVALID" } } });
    }
    const issued = await login("ada", "admin-pass");
    const claims = JSON.parse(Buffer.from(issued.split(".")[1]!, "base64url").toString()) as { exp?: number; iat: number; iss: string; aud: string };
    expect(claims.exp! - claims.iat).toBe(12 * 3600);
    expect(claims).toMatchObject({ iss: "tollgate-gateway", aud: "tollgate-console" });
  });

  it("signs in for no longer than GATEWAY_MAX_TOKEN_HOURS when it is under 12: the token it issues is one it takes", async () => {
    const signedIn = await loginFrom("127.0.0.51", "tess", "tess-pass");
    expect(signedIn.status).toBe(200);
    const token = signedIn.body.token as string;
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(8 * 3600);
    const me = await fetch(`${hardened.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
  });

  it("refuses a sign-in's token once its user is gone or their role or password changed; a back office's token is not tied to the list", async () => {
    const gatewayWith = (users: string) => startGateway({ databaseUrl: db.url, port: 0, secret: SECRET, users, ...platform.serviceCredentials("gateway", ROLES), addresses: platform.addresses });
    // Users no other test signs in as, each from an address of its own: no sign-in limit is near.
    const before = await gatewayWith("rita:rita-pass:viewer,sam:sam-pass:operator,tom:tom-pass:admin,uma:uma-pass:operator");
    // The same secret and database, the users configured anew: rita removed, sam's password changed, tom made a viewer; uma unchanged.
    const after = await gatewayWith("sam:rotated-pass:operator,tom:tom-pass:viewer,uma:uma-pass:operator");
    try {
      const tokens = new Map<string, string>();
      for (const [i, [name, password]] of [["rita", "rita-pass"], ["sam", "sam-pass"], ["tom", "tom-pass"], ["uma", "uma-pass"]].entries()) {
        const signedIn = await loginFrom(`127.0.0.${61 + i}`, name!, password!, { gateway: before });
        expect(signedIn.status, name).toBe(200);
        tokens.set(name!, signedIn.body.token as string);
      }
      const minted = await new SignJWT({ role: "operator" }).setProtectedHeader({ alg: "HS256" }).setIssuer("tollgate-gateway").setAudience("tollgate-console")
        .setSubject("back-office-user").setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
      const me = async (token: string) => {
        const response = await fetch(`${after.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
        return { status: response.status, body: (await response.json()) as Record<string, any> };
      };
      for (const name of ["rita", "sam", "tom"]) {
        expect(await me(tokens.get(name)!), name).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_INVALID" } } });
      }
      expect(await me(tokens.get("uma")!)).toMatchObject({ status: 200, body: { username: "uma", role: "operator" } });
      expect(await me(minted)).toMatchObject({ status: 200, body: { username: "back-office-user", role: "operator" } });
    } finally {
      await Promise.all([before.stop(), after.stop()]);
    }
  });

  it("signs a token out on every gateway (POST /api/logout): it is refused from then on, the user's other sign-ins go on; a token without an id too", async () => {
    const gatewayWith = () => startGateway({ databaseUrl: db.url, port: 0, secret: SECRET, users: "val:val-pass:viewer", ...platform.serviceCredentials("gateway", ROLES), addresses: platform.addresses });
    const [one, other] = await Promise.all([gatewayWith(), gatewayWith()]);
    try {
      const send = async (via: Gateway, path: string, token: string | undefined, method = "GET") => {
        const response = await fetch(`${via.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
        return { status: response.status, body: response.status === 204 ? {} : ((await response.json()) as Record<string, any>) };
      };
      const laptop = (await loginFrom("127.0.0.71", "val", "val-pass", { gateway: one })).body.token as string;
      const phone = (await loginFrom("127.0.0.72", "val", "val-pass", { gateway: one })).body.token as string;
      const { jti } = decodeJwt(laptop);
      expect(jti).toMatch(/^[0-9a-f-]{36}$/);
      expect(decodeJwt(phone).jti).not.toBe(jti);

      expect(await send(one, "/api/logout", undefined, "POST")).toMatchObject({ status: 401, body: { error: { reason: "LOGIN_REQUIRED" } } });
      expect(await send(one, "/api/logout", laptop, "POST")).toEqual({ status: 204, body: {} });
      // Refused by the gateway it signed out on and by another on the same database; signing out again changes nothing.
      for (const via of [one, other]) expect(await send(via, "/api/me", laptop)).toMatchObject({ status: 401, body: { error: { code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" } } });
      expect(await send(other, "/api/logout", laptop, "POST")).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_REVOKED" } } });
      expect(await send(other, "/api/me", phone)).toMatchObject({ status: 200, body: { username: "val" } });
      const sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      try {
        const { rows } = await sql.query(`select extract(epoch from expires_at)::bigint as exp from gateway.revoked_tokens where token_id = $1`, [jti]);
        expect(rows.map((r) => Number(r.exp))).toEqual([decodeJwt(laptop).exp]);
      } finally {
        await sql.end();
      }

      // A back office's token has no id: it is signed out by its digest, on every gateway, and another of its tokens goes on.
      // (It was refused 409 TOKEN_NOT_REVOCABLE and stayed valid to its expiry.)
      const mint = (subject: string) => new SignJWT({ role: "viewer" }).setProtectedHeader({ alg: "HS256" }).setIssuer("tollgate-gateway").setAudience("tollgate-console")
        .setSubject(subject).setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
      const [minted, mintedToo] = await Promise.all([mint("back-office-user"), mint("back-office-other")]);
      expect(decodeJwt(minted).jti).toBeUndefined();
      expect(await send(one, "/api/me", minted)).toMatchObject({ status: 200 });
      expect(await send(one, "/api/logout", minted, "POST")).toEqual({ status: 204, body: {} });
      for (const via of [one, other]) expect(await send(via, "/api/me", minted)).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_REVOKED" } } });
      // Nor does another spelling of the same token get past it: padding on the signature, or its last character's unused bits set.
      const signature = minted.slice(minted.lastIndexOf(".") + 1);
      const unusedBitsSet = BASE64URL[BASE64URL.indexOf(signature.at(-1)!) | 0b11]!;
      for (const spelling of [`${minted}=`, `${minted.slice(0, -1)}${unusedBitsSet}`]) {
        expect(spelling).not.toBe(minted);
        expect(await send(other, "/api/me", spelling)).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_REVOKED" } } });
      }
      expect(await send(other, "/api/me", mintedToo)).toMatchObject({ status: 200, body: { username: "back-office-other" } });
    } finally {
      await Promise.all([one.stop(), other.stop()]);
    }
  });

  it("answers CORS only for the configured origins, and for none by default", async () => {
    const preflight = (url: string, from: string) =>
      fetch(`${url}/api/accounts`, { method: "OPTIONS", headers: { origin: from, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    const listed = await preflight(hardened.url, origin);
    expect(listed.headers.get("access-control-allow-origin")).toBe(origin);
    expect(listed.headers.get("access-control-allow-credentials")).toBeNull();
    expect((await preflight(hardened.url, "https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight(gateway.url, "https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    // Removing a budget is a DELETE with a JSON body: a listed origin may send it.
    const removal = await fetch(`${hardened.url}/api/accounts/acme/budgets/x`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "DELETE", "access-control-request-headers": "authorization,content-type" } });
    expect(removal.headers.get("access-control-allow-methods")).toContain("DELETE");
    const read = await fetch(`${gateway.url}/api/accounts`, { headers: { origin: "https://evil.example", authorization: `Bearer ${await login("vera", "viewer-pass")}` } });
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("limits sign-in attempts per user, from any address, with 429 and Retry-After", async () => {
    // Three attempts on hana's name from three addresses; the fourth is refused even with the right password.
    expect((await loginFrom("127.0.0.11", "hana", "guess-1")).status).toBe(401);
    expect((await loginFrom("127.0.0.12", "hana", "guess-2")).status).toBe(401);
    expect((await loginFrom("127.0.0.13", "hana", "guess-3")).status).toBe(401);
    const limited = await loginFrom("127.0.0.14", "hana", "hana-pass");
    expect(limited).toMatchObject({ status: 429, body: { error: { code: "RESOURCE_EXHAUSTED", reason: "LOGIN_RATE_LIMITED" } } });
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(600);
    // Other users, from the same address, still sign in.
    expect((await loginFrom("127.0.0.14", "olly", "olly-pass")).status).toBe(200);
  });

  it("counts sign-in attempts in the database: another gateway process on it counts against the same limits", async () => {
    const gusGateway = () =>
      startGateway({ databaseUrl: db.url, port: 0, secret: SECRET, users: "gus:gus-pass:viewer", loginLimits: { perUser: 3, perAddress: 5, windowMs: 600_000 }, addresses: platform.addresses });
    let other = await gusGateway();
    try {
      // Two guesses at gus on one gateway, one on the other: the fourth attempt, on either, is over the limit of 3.
      expect((await loginFrom("127.0.0.41", "gus", "guess-1", { gateway: other })).status).toBe(401);
      expect((await loginFrom("127.0.0.42", "gus", "guess-2", { gateway: other })).status).toBe(401);
      expect((await loginFrom("127.0.0.43", "gus", "guess-3")).status).toBe(401);
      const limited = await loginFrom("127.0.0.44", "gus", "gus-pass", { gateway: other });
      expect(limited).toMatchObject({ status: 429, body: { error: { reason: "LOGIN_RATE_LIMITED" } } });
      // Its Retry-After counts from the first attempt of the window, wherever it was made.
      expect(Number(limited.retryAfter)).toBeGreaterThan(590);
      expect(Number(limited.retryAfter)).toBeLessThanOrEqual(600);
      // A restarted gateway does not forget them either.
      await other.stop();
      other = await gusGateway();
      expect((await loginFrom("127.0.0.45", "gus", "gus-pass", { gateway: other })).status).toBe(429);
    } finally {
      await other.stop();
    }
  });

  it("limits sign-in attempts per address, whatever the user names", async () => {
    for (const username of ["u1", "u2", "u3", "u4", "u5"]) expect((await loginFrom("127.0.0.21", username, "guess")).status).toBe(401);
    const limited = await loginFrom("127.0.0.21", "ida", "ida-pass");
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect((await loginFrom("127.0.0.22", "ida", "ida-pass")).status).toBe(200);
    // X-Forwarded-For from a peer that is not a trusted proxy names nobody: the attempts still count against 127.0.0.21.
    expect((await loginFrom("127.0.0.21", "ida", "ida-pass", { forwardedFor: "198.51.100.9" })).status).toBe(429);
    // Past the limit, the gateway answers itself until the window ends: a flood of refused sign-ins writes nothing to the database.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const counters = async () => (await sql.query<{ attempts: number }>(`select sum(attempts)::int as attempts from gateway.login_attempts`)).rows[0]!.attempts;
      const before = await counters();
      for (let i = 0; i < 5; i++) expect((await loginFrom("127.0.0.21", `flood-${i}`, "guess")).status).toBe(429);
      expect(await counters()).toBe(before);
    } finally {
      await sql.end();
    }
  });

  it("stops while a request's body is still arriving: its connection is closed after the drain, not waited on", async () => {
    const stopping = await startGateway({
      databaseUrl: db.url, port: 0, secret: SECRET, users: "ida:ida-pass:viewer",
      addresses: platform.addresses,
    });
    const { hostname, port } = new URL(stopping.url);
    const socket = tcpConnect(Number(port), hostname, () => socket.write("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stopping.stop(); // threw "the shutdown step HTTP server was still running after 12000 ms"
    await closed;
  }, 20_000);

  it("counts sign-ins behind a trusted proxy per client address it forwards (GATEWAY_TRUSTED_PROXIES)", async () => {
    const proxied = await startGateway({
      databaseUrl: db.url, port: 0, secret: SECRET, users: "ida:ida-pass:viewer", trustedProxies: ["127.0.0.31"],
      loginLimits: { perUser: 100, perAddress: 2, windowMs: 600_000 },
      addresses: platform.addresses,
    });
    try {
      const viaProxy = (client: string, password = "guess") => loginFrom("127.0.0.31", "ida", password, { gateway: proxied, forwardedFor: client });
      expect((await viaProxy("198.51.100.1")).status).toBe(401);
      expect((await viaProxy("198.51.100.1")).status).toBe(401);
      expect((await viaProxy("198.51.100.1", "ida-pass")).status).toBe(429);
      // Another client behind the same proxy is not locked out by the first one's guesses.
      expect((await viaProxy("198.51.100.2", "ida-pass")).status).toBe(200);
      // A peer that is not the proxy cannot pick the address it is counted as.
      expect((await loginFrom("127.0.0.32", "ida", "guess", { gateway: proxied, forwardedFor: "198.51.100.3" })).status).toBe(401);
      expect((await loginFrom("127.0.0.32", "ida", "guess", { gateway: proxied, forwardedFor: "198.51.100.4" })).status).toBe(401);
      expect((await loginFrom("127.0.0.32", "ida", "ida-pass", { gateway: proxied, forwardedFor: "198.51.100.5" })).status).toBe(429);
    } finally {
      await proxied.stop();
    }
  });
});

describe("a service's limits through the console", () => {
  let limitedPricing: PricingService;
  let limited: Gateway;

  beforeAll(async () => {
    // A second pricing service on the same database, allowing the gateway one call and then one every two seconds.
    limitedPricing = await startPricingService({ databaseUrl: db.url, port: 0, poolMax: 2, auth: platform.auth, rateLimit: { perSecond: 0.5, burst: 1 } });
    limited = await startGateway({
      databaseUrl: db.url,
      port: 0,
      secret: SECRET,
      users: "vera:viewer-pass:viewer",
      refusalLimit: { perSecond: 0.1, burst: 3 },
      ...platform.serviceCredentials("gateway", ROLES),
      addresses: { ...platform.addresses, pricing: limitedPricing.address },
    });
  });

  afterAll(async () => {
    await limited?.stop();
    await limitedPricing?.stop();
  });

  it("answers an address past its refusals 429 with Retry-After and records no more of them; a valid token from it still passes", async () => {
    const signIn = await fetch(`${limited.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "viewer-pass" }) });
    const { token } = (await signIn.json()) as { token: string };
    const route = "/api/accounts/refusal-flood";
    const bad = () => fetch(`${limited.url}${route}`, { headers: { authorization: "Bearer not-a-token" } });
    for (let i = 0; i < 3; i++) expect((await bad()).status).toBe(401);
    const flooded = await Promise.all(Array.from({ length: 20 }, bad));
    expect(flooded.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 429));
    expect(await flooded[0]!.json()).toMatchObject({ error: { status: 429, code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED" } });
    expect(Number(flooded[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const { rows } = await sql.query<{ count: number }>(`select count from audit.calls where rpc = $1 and account_id = 'refusal-flood'`, [`GET /api/accounts/:id`]);
      expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(3);
    } finally {
      await sql.end();
    }
    expect((await fetch(`${limited.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it("answers a service's rate limit (RESOURCE_EXHAUSTED) 429 with Retry-After, not 500", async () => {
    const signIn = await fetch(`${limited.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "viewer-pass" }) });
    const { token } = (await signIn.json()) as { token: string };
    const read = () => fetch(`${limited.url}/api/rate-tables`, { headers: { authorization: `Bearer ${token}` } });
    expect((await read()).status).toBe(200);
    const refused = await read();
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { status: 429, code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED", message: expect.stringContaining("retry after") } });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(2);
  });
});

describe("the gateway's main", () => {
  const addresses = () => ({
    ENTITLEMENTS_ADDRESS: platform.entitlements.address,
    PRICING_ADDRESS: platform.pricing.address,
    LEDGER_ADDRESS: platform.ledger.address,
    NOTIFICATIONS_ADDRESS: platform.notifications.address,
  });
  const baseEnv = () => ({ PATH: process.env.PATH, DATABASE_URL: db.url, GATEWAY_PORT: "0", GATEWAY_METRICS_PORT: "0", GATEWAY_SECRET: SECRET, ...addresses() });
  // The bundle npm start and the image run (scripts/build-services.ts).
  // Built beside the project's node_modules (which the bundle's packages resolve from), not into services/gateway/dist,
  // which a running npm start restarts a crashed gateway from.
  mkdirSync(join(root, ".tollgate"), { recursive: true });
  const bundles = mkdtempSync(join(root, ".tollgate", "bundles-"));
  const entry = join(bundles, "gateway", "main.js");
  beforeAll(() => buildServices(["gateway"], bundles), 60_000);
  afterAll(() => rmSync(bundles, { recursive: true, force: true }));

  it("has no demo users by default: without GATEWAY_USERS it stops at boot naming the variable", async () => {
    const lines: string[] = [];
    const started = spawnService("gateway", baseEnv(), { onLine: (_name, line) => lines.push(line) }, entry);
    await expect(started).rejects.toThrow(/exited \(code 1\)/);
    expect(lines.join("\n")).toContain("GATEWAY_USERS");
  }, 120_000);

  it("has the demo users when asked for, as npm start does", async () => {
    const service = await spawnService("gateway", { ...baseEnv(), GATEWAY_DEMO_USERS: "true", TRACES_RECORDED: "true" }, {}, entry);
    try {
      const signIn = (username: string, password: string) =>
        fetch(`${service.address}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
      const signedIn = await signIn("viewer", "viewer");
      expect(signedIn.status).toBe(200);
      // As under npm start: spans recorded with no exporter, so every answer names a real trace (the bundle's HTTP instrumentation works).
      expect(signedIn.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/);
      // A caller's own trace context is not taken (it would choose its trace id, and join another flow's): the request starts its own.
      const chosen = "f1657d1a12c07dd22bb24f90ede81da9";
      const traced = await fetch(`${service.address}/api/login`, {
        method: "POST", headers: { "content-type": "application/json", traceparent: `00-${chosen}-00f067aa0ba902b7-01` }, body: JSON.stringify({ username: "viewer", password: "viewer" }),
      });
      expect(traced.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/);
      expect(traced.headers.get("x-trace-id")).not.toBe(chosen);
      expect((await signIn("admin", "admin")).status).toBe(200);
    } finally {
      await stopProcesses([service]);
    }
    // The in-process gateway above was given its users and has none of the demo ones.
    expect((await api("/api/login", { method: "POST", body: { username: "admin", password: "admin" } })).status).toBe(401);
  }, 120_000);
});

describe("search and rate table versions from the console", () => {
  it("finds a hold across accounts by its conversation, with the rate table numbered per table, and names an empty query", async () => {
    const viewer = await login("vera", "viewer-pass");
    const hold = await call(platform.clients.ledger, platform.clients.ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({
      accountId: "acme", estimate: replies("gpt-4o", 1), attribution: { conversationId: "conv-gw-1" }, idempotencyKey: "gw-search-hold", ttlMs: "600000",
    }));
    await call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "acme", holdId: hold.holdId, usage: replies("gpt-4o", 1), attribution: { conversationId: "conv-gw-1" }, final: true, idempotencyKey: "gw-search-charge",
    }));
    const found = await api("/api/search?q=conv-gw-1", { token: viewer });
    expect(found.body.data).toHaveLength(1);
    expect(found.body.data[0]).toMatchObject({ match: "conversation_id", account_id: "acme", kind: "entry", entry: { hold_id: hold.holdId, rate_table_id: "default", rate_table_version: "1" } });
    const byKey = await api("/api/search?q=gw-search-hold", { token: viewer });
    expect(byKey.body.data[0]).toMatchObject({ match: "idempotency_key", kind: "hold", hold: { id: hold.holdId, rate_table_id: "default" } });
    const empty = await api("/api/search?q=%20", { token: viewer });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe("q");

    const version = await api("/api/rate-tables/default/1", { token: viewer });
    expect(version.body).toMatchObject({ id: "default@1", table_id: "default", version: "1" });
    expect((await api("/api/rate-tables/default/99", { token: viewer })).status).toBe(404);
  });

  it("lets an admin publish a new rate table version with a reason (audited), and refuses an operator, bad rates and a price pricing cannot use, naming the field", async () => {
    const current = (await api("/api/rate-tables/in-effect?table_id=default", { token: await login("vera", "viewer-pass") })).body as { rates: Record<string, unknown>[] };
    // Another table (this file's charges keep pricing at default's rates), from default's rates with a new price.
    const cheaper = current.rates.map((rate) => ({ ...rate, modelReply: { ...(rate.modelReply as object), microsPerReply: "4000000" } }));
    const body = { table_id: "console-rates", rates: cheaper, reason: "gpt-4o replies cost 4 credits from now" };
    const operator = await login("otto", "operator-pass");
    expect((await api("/api/rate-tables", { method: "POST", token: operator, body })).status).toBe(403);
    const admin = await login("ada", "admin-pass");
    expect((await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: "cheap" } })).body.error).toMatchObject({ status: 400, field: "rates" });
    expect((await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, effective_from: "someday" } })).body.error).toMatchObject({ status: 400, field: "effective_from" });
    const negative = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [{ ...cheaper[0], modelReply: { model: "gpt-4o", microsPerReply: "-1" } }] } });
    // The service's refusal names the field as the document does (camelCase), not as the contract (model_reply.micros_per_reply).
    expect(negative.body.error).toMatchObject({ status: 400, field: "rates[0].modelReply.microsPerReply" });
    // A price written in hexadecimal, or a model name with a control character, is refused rather than read as 16 or shown as sent.
    const hex = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [{ ...cheaper[0], modelReply: { model: "gpt-4o", microsPerReply: "0x10" } }] } });
    expect(hex.body.error).toMatchObject({ status: 400, field: "rates[0].modelReply.microsPerReply", message: expect.stringContaining("whole number written in digits") });
    const controlled = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [{ ...cheaper[0], modelReply: { model: "gpt\u202e4o", microsPerReply: "1" } }] } });
    expect(controlled.body.error).toMatchObject({ status: 400, field: "rates[0].modelReply.model" });
    expect((await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [cheaper[0], null] } })).body.error).toMatchObject({ status: 400, field: "rates[1]" });
    // Read strictly: an enum value that does not exist, or a key that does not, is named rather than answered 500 or dropped.
    const bogus = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [{ ...cheaper[0], bucket: "BUCKET_BOGUS" }] } });
    expect(bogus.body.error).toMatchObject({ status: 400, field: "rates[0].bucket", message: expect.stringContaining('must be one of BUCKET_AI, BUCKET_COMPUTE, BUCKET_PLATFORM, BUCKET_TOOL_RUNS, not "BUCKET_BOGUS"') });
    const misspelt = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, rates: [{ ...cheaper[0], buckett: "BUCKET_AI" }] } });
    expect(misspelt.body.error).toMatchObject({ status: 400, field: "rates[0].buckett", message: "rates[0].buckett: is not a known field" });
    expect((await api("/api/rate-tables/in-effect?table_id=console-rates", { token: admin })).status).toBe(404); // nothing was published

    const published = await api("/api/rate-tables", { method: "POST", token: admin, body, headers: { "idempotency-key": "publish-cheaper" } });
    expect(published.status).toBe(200);
    // Published by the gateway's principal, for the admin signed in to the console.
    expect(published.body.table).toMatchObject({ id: "console-rates@1", table_id: "console-rates", version: "1", published_by: "gateway", published_on_behalf_of: "ada" });
    // Retried with its key: the same version, not another.
    const again = await api("/api/rate-tables", { method: "POST", token: admin, body, headers: { "idempotency-key": "publish-cheaper" } });
    expect(again.body.table.version).toBe("1");
    // A version that would start before the one in effect: 409 naming effective_from (pricing's FAILED_PRECONDITION), nothing published.
    const backDated = await api("/api/rate-tables", { method: "POST", token: admin, body: { ...body, effective_from: "2026-01-01T00:00:00Z" } });
    expect(backDated).toMatchObject({ status: 409, body: { error: { code: "FAILED_PRECONDITION", field: "effective_from", reason: "EFFECTIVE_FROM_BEFORE_VERSION_IN_EFFECT" } } });
    const inEffect = await api("/api/rate-tables/in-effect?table_id=console-rates", { token: admin });
    expect(inEffect.body.version).toBe("1");
    expect(inEffect.body.rates).toEqual(expect.arrayContaining([expect.objectContaining({ modelReply: expect.objectContaining({ model: "gpt-4o", microsPerReply: "4000000" }) })]));
    const audit = await api("/api/audit", { token: admin });
    expect(audit.body.data.filter((row: { action: string }) => row.action === "publish_rate_table")).toEqual(
      expect.arrayContaining([expect.objectContaining({ actor: "ada", target: "rate_table:console-rates", reason: "gpt-4o replies cost 4 credits from now" })]),
    );
  });
});

describe("plans from the console", () => {
  it("lets an admin publish a new plan version from a version's document (audited), read strictly, and refuses an operator and what entitlements refuses, naming the field", async () => {
    const viewer = await login("vera", "viewer-pass");
    const starter = ((await api("/api/plans", { token: viewer })).body.data as { plan_id: string; document: Record<string, unknown> }[]).find((p) => p.plan_id === "starter")!;
    const document = { ...starter.document, planId: "console-plan", name: "Console plan" };
    const body = { plan: document, reason: "a plan for customers signed up by support" };
    const operator = await login("otto", "operator-pass");
    expect((await api("/api/plans", { method: "POST", token: operator, body })).status).toBe(403);
    const admin = await login("ada", "admin-pass");
    expect((await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: "starter" } })).body.error).toMatchObject({ status: 400, field: "plan" });
    const misspelt = await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: { ...document, allotment: [] } } });
    expect(misspelt.body.error).toMatchObject({ status: 400, field: "plan.allotment", message: "plan.allotment: is not a known field" });
    const noId = await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: { ...document, planId: "" } } });
    expect(noId.body.error).toMatchObject({ status: 400, field: "plan.planId" });
    const negative = await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: { ...document, limits: [{ unit: "UNIT_CREDITS", lowCreditLimitMicros: "-1" }] } } });
    expect(negative.body.error).toMatchObject({ status: 400, field: "plan.limits[0].lowCreditLimitMicros" });
    const none = await api("/api/plans?all_versions=true", { token: admin });
    expect(none.body.data.filter((p: { plan_id: string }) => p.plan_id === "console-plan")).toEqual([]); // nothing was published

    const published = await api("/api/plans", { method: "POST", token: admin, body, headers: { "idempotency-key": "publish-console-plan" } });
    expect(published.status).toBe(200);
    // Published by the gateway's principal, for the admin signed in to the console; the source version's publisher in the document sent is not taken.
    expect(starter.document).toMatchObject({ publishedBy: expect.any(String) });
    expect(published.body.plan).toMatchObject({ plan_id: "console-plan", name: "Console plan", allotments: [expect.objectContaining({ amount_micros: "100000000" })], published_by: "gateway", published_on_behalf_of: "ada" });
    expect(published.body.plan.version).not.toBe(starter.document.version);
    // Retried with its key: the same version, not another.
    const again = await api("/api/plans", { method: "POST", token: admin, body, headers: { "idempotency-key": "publish-console-plan" } });
    expect(again.body.plan.version).toBe(published.body.plan.version);
    const versions = await api("/api/plans?all_versions=true", { token: admin });
    expect(versions.body.data.filter((p: { plan_id: string }) => p.plan_id === "console-plan")).toHaveLength(1);
    const audit = await api("/api/audit", { token: admin });
    expect(audit.body.data.filter((row: { action: string }) => row.action === "publish_plan")).toEqual([
      expect.objectContaining({ actor: "ada", target: "plan:console-plan", reason: "a plan for customers signed up by support" }),
    ]);

    // The key is the user's: sent with another action it is refused before anything is done.
    const otherAction = await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: { ...document, planId: "console-plan-2" } }, headers: { "idempotency-key": "publish-console-plan" } });
    expect(otherAction).toMatchObject({ status: 409, body: { error: { reason: "IDEMPOTENCY_KEY_REUSED" } } });
    // An empty key is no key: two actions, two versions, two audit rows.
    for (let n = 0; n < 2; n++) expect((await api("/api/plans", { method: "POST", token: admin, body: { ...body, plan: { ...document, planId: "console-plan-3" } }, headers: { "idempotency-key": " " } })).status).toBe(200);
    expect((await api("/api/plans?all_versions=true", { token: admin })).body.data.filter((p: { plan_id: string }) => p.plan_id === "console-plan-3")).toHaveLength(2);
    // A key first used longer ago than every service keeps answers is not replayed (it would act again, unaudited).
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(`update gateway.audit_log set created_at = now() - interval '2 days' where audit_id = $1`, [published.body.audit_id]);
    } finally {
      await sql.end();
    }
    const stale = await api("/api/plans", { method: "POST", token: admin, body, headers: { "idempotency-key": "publish-console-plan" } });
    expect(stale).toMatchObject({ status: 409, body: { error: { reason: "IDEMPOTENCY_KEY_EXPIRED" } } });
    expect((await api("/api/plans?all_versions=true", { token: admin })).body.data.filter((p: { plan_id: string }) => p.plan_id === "console-plan")).toHaveLength(1);
  });
});

describe("notifications from the console", () => {
  it("shows where an account's alerts go, and lets an operator change its email recipients with a reason, keeping its webhooks (audited)", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const { entitlements, notifications } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "alerted", name: "Alerted", planId: "starter", seats: 1, adminEmails: ["owner@alerted.example"] }));
    const viewer = await login("vera", "viewer-pass");
    // None set: the defaults (emails to the admins, which the console shows from the account).
    expect(await api("/api/accounts/alerted/preferences", { token: viewer })).toMatchObject({ status: 200, body: { account_id: "alerted", email_recipients: [], webhooks: [], channels_by_rule: {} } });
    expect(await api("/api/accounts/no-such-account/preferences", { token: viewer })).toMatchObject({ status: 404, body: { error: { reason: "ACCOUNT_NOT_FOUND" } } });

    await call(notifications, notifications.setPreferences, {
      updateFields: [],
      preferences: notificationsV1.Preferences.fromPartial({
        accountId: "alerted", webhooks: [{ url: "https://hooks.alerted.example/tollgate", secret }], channelsByRule: { usage_50: { channels: [notificationsV1.Channel.CHANNEL_WEBHOOK] } },
      }),
    });
    const shown = await api("/api/accounts/alerted/preferences", { token: viewer });
    // The webhook's path is elided (for a chat's incoming webhook it is the credential).
    expect(shown.body).toMatchObject({
      webhooks: [{ url: "https://hooks.alerted.example/…", secret_fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{16}$/) }],
      channels_by_rule: { usage_50: ["webhook"] },
    });
    expect(JSON.stringify(shown.body)).not.toContain(secret);
    expect(JSON.stringify(shown.body)).not.toContain("/tollgate");

    const set = (token: string, body: unknown) => api("/api/accounts/alerted/preferences", { method: "POST", token, body });
    expect((await set(viewer, { email_recipients: ["ops@alerted.example"], reason: "customer asked" })).status).toBe(403);
    const operator = await login("otto", "operator-pass");
    expect(await set(operator, { email_recipients: ["ops@alerted.example", "not an address"], reason: "customer asked" })).toMatchObject({ status: 400, body: { error: { field: "email_recipients[1]" } } });
    expect(await set(operator, { reason: "customer asked" })).toMatchObject({ status: 400, body: { error: { field: "email_recipients" } } });
    expect(await set(operator, { email_recipients: [7], reason: "customer asked" })).toMatchObject({ status: 400, body: { error: { field: "email_recipients[0]" } } });
    // One plain address each, once: a mail library would read these as other addresses, a group, or strip the control character.
    for (const address of ["a\u0007b@alerted.example", "grp:x@evil.example;", "<c@alerted.example>", "Ops <ops@alerted.example>", "a@b@alerted.example", `${"a".repeat(65)}@alerted.example`]) {
      expect(await set(operator, { email_recipients: [address], reason: "customer asked" }), address).toMatchObject({ status: 400, body: { error: { field: "email_recipients[0]" } } });
    }
    expect(await set(operator, { email_recipients: ["ops@alerted.example", "OPS@alerted.example"], reason: "customer asked" })).toMatchObject({ status: 400, body: { error: { field: "email_recipients[1]", message: expect.stringContaining("repeats") } } });
    // An empty one would have sent the admins' alerts nowhere.
    expect(await set(operator, { email_recipients: [" "], reason: "customer asked" })).toMatchObject({ status: 400, body: { error: { field: "email_recipients[0]", message: expect.stringContaining("must not be empty") } } });

    const saved = await set(operator, { email_recipients: ["ops@alerted.example", " billing@alerted.example ", "josé@bücher.example"], reason: "customer asked for the ops list" });
    expect(saved).toMatchObject({ status: 200, body: { preferences: { email_recipients: ["ops@alerted.example", "billing@alerted.example", "josé@bücher.example"] }, audit_id: expect.any(String) } });
    // The webhook (its stored secret) and the per-rule channels are as they were.
    const stored = (await call(notifications, notifications.getPreferences, { accountId: "alerted" })).preferences!;
    expect(stored).toMatchObject({ emailRecipients: ["ops@alerted.example", "billing@alerted.example", "josé@bücher.example"], webhooks: [{ url: "https://hooks.alerted.example/tollgate", secret: shown.body.webhooks[0].secret_fingerprint }] });
    expect(stored.channelsByRule).toEqual({ usage_50: { channels: [notificationsV1.Channel.CHANNEL_WEBHOOK] } });
    // Nor does the audit log show the webhook's path, to any role: not the console's row of this change, nor the services' rows of
    // the SetPreferences calls (the one above, and the gateway's, which sends the webhooks it read beside the recipients).
    const audited = (await api("/api/audit?account_id=alerted", { token: viewer })).body.data as { action: string }[];
    expect(audited.map((row) => row.action)).toEqual(expect.arrayContaining(["set_email_recipients", "SetPreferences"]));
    expect(JSON.stringify(audited)).toContain("https://hooks.alerted.example/…");
    expect(JSON.stringify(audited)).not.toContain("/tollgate");
    // Only the recipients are written: webhooks saved twice at one URL (as a release before this one allowed) neither block the save nor change.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const twice = [{ url: "https://hooks.alerted.example/a", secret: "whsec_YQ==" }, { url: "https://hooks.alerted.example/a", secret: "whsec_Yg==" }];
      await sql.query(`update notifications.preferences set webhooks = $1::jsonb where account_id = 'alerted'`, [JSON.stringify(twice)]);
      expect((await set(operator, { email_recipients: ["ops@alerted.example"], reason: "back to the ops list" })).status).toBe(200);
      const { rows } = await sql.query(`select webhooks, channels_by_rule from notifications.preferences where account_id = 'alerted'`);
      expect(rows[0]).toEqual({ webhooks: twice, channels_by_rule: { usage_50: ["webhook"] } });
    } finally {
      await sql.end();
    }
    const audit = await api("/api/audit?account_id=alerted", { token: operator });
    expect(audit.body.data).toEqual(expect.arrayContaining([expect.objectContaining({
      action: "set_email_recipients", actor: "otto", target: "account:alerted", reason: "customer asked for the ops list",
      before: expect.objectContaining({ email_recipients: [] }), after: expect.objectContaining({ preferences: expect.objectContaining({ email_recipients: ["ops@alerted.example", "billing@alerted.example", "josé@bücher.example"] }) }),
    })]));
  });

  it("resends once for a resend repeated with the same Idempotency-Key, answering the same; the key with another body is 409", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const hook = await startWebhookReceiver(secret);
    const { entitlements, ledger, notifications } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "resent", name: "resent", planId: "starter", seats: 1, adminEmails: ["admin@resent.example"] }));
    await call(notifications, notifications.setPreferences, { updateFields: [], preferences: notificationsV1.Preferences.fromPartial({ accountId: "resent", webhooks: [{ url: hook.url, secret }] }) });
    await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "resent", usage: replies("gpt-4o", 5), final: true, idempotencyKey: "resent-25" })); // 25 %: the 20 % webhook
    await eventually(async () => (hook.received.length === 1 ? true : undefined), 8_000, "the 20 % webhook");

    const operator = await login("otto", "operator-pass");
    const row = async () => {
      const listed = await api("/api/notifications?account_id=resent", { token: operator });
      return listed.body.data.find((n: { channel: string }) => n.channel === "webhook") as { id: string; status: string; attempts: number };
    };
    const delivered = await eventually(async () => ((await row())?.status === "delivered" ? row() : undefined), 8_000, "a delivered webhook");
    const resend = (reason: string) =>
      api(`/api/notifications/${delivered.id}/resend`, { method: "POST", token: operator, body: { reason }, headers: { "idempotency-key": "console-resend-1" } });

    // An action that takes only a reason refuses anything else (nothing resent: the first resend below is the first).
    const extra = await api(`/api/notifications/${delivered.id}/resend`, { method: "POST", token: operator, body: { reason: "again", channel: "email" } });
    expect(extra).toMatchObject({ status: 400, body: { error: { field: "channel", message: "channel: is not a field of this request (it takes reason)" } } });

    const first = await resend("the receiver lost it");
    expect(first).toMatchObject({ status: 200, body: { notification: { id: delivered.id, status: "pending", attempts: 1 } } });
    await eventually(async () => ((await row()).status === "delivered" ? true : undefined), 8_000, "the resent webhook");
    expect(hook.received).toHaveLength(2);

    // The console's retry of the same request: the same answer and audit row, nothing sent.
    const again = await resend("the receiver lost it");
    expect(again.status).toBe(200);
    expect(again.body.notification).toEqual(first.body.notification);
    expect(again.body.audit_id).toBe(first.body.audit_id);
    await new Promise((resolve) => setTimeout(resolve, 700)); // the worker polls every 100 ms: a second send would have gone by now
    expect(hook.received).toHaveLength(2);
    expect(await row()).toMatchObject({ status: "delivered", attempts: 2 });

    // Filed under the notification's account, though the request names only the notification; so is a banner's dismissal.
    const banner = (await api("/api/accounts/resent", { token: operator })).body.banners[0] as { id: string };
    expect((await api(`/api/banners/${banner.id}/dismiss`, { method: "POST", token: operator, body: { reason: "customer topped up" } })).status).toBe(200);
    const audit = await api("/api/audit?account_id=resent", { token: operator });
    expect(audit.body.data).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: "resend_notification", target: `notification:${delivered.id}`, account_id: "resent", reason: "the receiver lost it" }),
      expect.objectContaining({ action: "dismiss_banner", target: `banner:${banner.id}`, account_id: "resent", reason: "customer topped up" }),
    ]));

    const reused = await resend("another reason");
    // Named as sent, not as the services saw it.
    expect(reused).toMatchObject({ status: 409, body: { error: { reason: "IDEMPOTENCY_KEY_REUSED", message: "idempotency key console-resend-1 was already used for a different request" } } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(2);
    await hook.stop();
  });
});
