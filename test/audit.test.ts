import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { CallAuditLog } from "@tollgate/db";
import { startGateway, type Gateway } from "@tollgate/gateway";
import { createClient, call, errorDetails, ROLES, type Role } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1 as N } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { CREDIT, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;
let operator: string;

async function api(path: string) {
  const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${operator}` } });
  return (await response.json()) as { data: Record<string, any>[]; next_page_token: string };
}

/** A ledger client calling as `subject` with `roles` (and, for a service, on behalf of someone). */
function ledgerAs(subject: string, roles: readonly Role[], onBehalfOf?: string) {
  return createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, {
    credentials: platform.issuer!.credential(subject, roles),
    ...(onBehalfOf ? { onBehalfOf: () => onBehalfOf } : {}),
  });
}

const grant = (key: string, accountId = "acme") =>
  ledgerV1.GrantRequest.fromPartial({
    accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS,
    amountMicros: String(5 * CREDIT), reason: "outage credit", idempotencyKey: key,
  });

function grantWith(client: ledgerV1.LedgerServiceClient, key: string, traceId?: string, accountId?: string): Promise<ServiceError | null> {
  const metadata = new Metadata();
  if (traceId) metadata.set("traceparent", `00-${traceId}-00f067aa0ba902b7-01`);
  return new Promise((resolve) => client.grant(grant(key, accountId), metadata, (error) => resolve(error)));
}

/** Refused calls are counted per minute: start a burst well inside one so it cannot straddle two. */
async function awayFromMinuteEnd(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 50) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
}

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "acme");
  gateway = await startGateway({
    databaseUrl: db.url,
    port: 0,
    secret: "a-test-secret-that-is-long-enough-0123456789",
    users: "otto:operator-pass:operator",
    ...platform.serviceCredentials("gateway", ROLES),
    addresses: platform.addresses,
  });
  const login = await fetch(`${gateway.url}/api/login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "otto", password: "operator-pass" }),
  });
  operator = ((await login.json()) as { token: string }).token;
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await platform?.stop();
  await db?.drop();
});

describe("audit of gRPC admin calls", () => {
  it("records a Grant over gRPC with its principal, roles, on-behalf-of, reason, trace id and outcome, shown by the console's audit list", async () => {
    const desk = ledgerAs("support-desk", ["support", "service"], "otto");
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    expect(await grantWith(desk, "audited-grant", traceId)).toBeNull();
    desk.close();

    const rows = (await api("/api/audit?account_id=acme")).data.filter((r) => r.action === "Grant" && r.outcome === "OK");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      source: "grpc", actor: "support-desk", on_behalf_of: "otto", reason: "outage credit", trace_id: traceId,
      account_id: "acme", target: "account:acme", count: 1,
    });
    expect(rows[0]!.role.split(",")).toEqual(expect.arrayContaining(["support", "service"]));
    expect(rows[0]!.after).toMatchObject({ accountId: "acme", amountMicros: String(5 * CREDIT), idempotencyKey: "audited-grant" });
  });

  it("records plan and account changes made by the platform's own setup", async () => {
    const actions = new Set((await api("/api/audit?page_size=200")).data.map((r) => r.action));
    for (const action of ["PublishPlan", "PublishRateTable", "CreateAccount"]) expect(actions.has(action)).toBe(true);
  });

  it("records a meter credential's refused Grant once with a count, and 50 refused attempts as one row of 50", async () => {
    await awayFromMinuteEnd();
    const meter = ledgerAs("meter-once", ["meter"]);
    const refused = await grantWith(meter, "refused-once");
    expect(refused?.code).toBe(status.PERMISSION_DENIED);
    expect(errorDetails(refused!).reason).toBe("ROLE_REQUIRED");
    meter.close();

    const flood = ledgerAs("meter-flood", ["meter"]);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => grantWith(flood, `flood-${i}`)));
    expect(answers.every((a) => a?.code === status.PERMISSION_DENIED)).toBe(true);
    flood.close();

    const rows = (await api("/api/audit?account_id=acme&page_size=200")).data.filter((r) => r.outcome === "PERMISSION_DENIED");
    expect(rows.filter((r) => r.actor === "meter-once")).toEqual([
      expect.objectContaining({ source: "grpc", action: "Grant", role: "meter", count: 1, account_id: "acme" }),
    ]);
    expect(rows.filter((r) => r.actor === "meter-flood")).toEqual([expect.objectContaining({ action: "Grant", count: 50 })]);
  });

  it("files refusals on two accounts in one minute under each account, so a probe cannot hide behind a decoy", async () => {
    await awayFromMinuteEnd();
    const prober = ledgerAs("meter-prober", ["meter"]);
    for (const [key, accountId] of [["decoy-1", "decoy"], ["probe-1", "acme"], ["probe-2", "acme"]] as const) {
      expect((await grantWith(prober, key, undefined, accountId))?.code).toBe(status.PERMISSION_DENIED);
    }
    prober.close();
    const under = async (accountId: string) => (await api(`/api/audit?account_id=${accountId}&page_size=200`)).data.filter((r) => r.actor === "meter-prober");
    expect(await under("acme")).toEqual([expect.objectContaining({ action: "Grant", count: 2, account_id: "acme" })]);
    expect(await under("decoy")).toEqual([expect.objectContaining({ action: "Grant", count: 1, account_id: "decoy" })]);
  });

  it("records a call with no credential by the caller's address", async () => {
    await awayFromMinuteEnd();
    const anonymous = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address);
    for (const key of ["anon-1", "anon-2"]) expect((await grantWith(anonymous, key))?.code).toBe(status.UNAUTHENTICATED);
    anonymous.close();
    const rows = (await api("/api/audit?page_size=200")).data.filter((r) => r.outcome === "UNAUTHENTICATED");
    expect(rows).toEqual([expect.objectContaining({ actor: "address:127.0.0.1", action: "Grant", count: 2 })]);
  });

  it("pages the console's and the services' audit rows together, newest first, each row once", async () => {
    const all = (await api("/api/audit?page_size=200")).data;
    const seen: string[] = [];
    let token = "";
    do {
      const page = await api(`/api/audit?page_size=3${token ? `&page_token=${token}` : ""}`);
      seen.push(...page.data.map((r) => String(r.id)));
      token = page.next_page_token;
    } while (token);
    expect(seen).toEqual(all.map((r) => String(r.id)));
    const times = all.map((r) => Date.parse(r.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("narrows the log to who acted (a console user, with the calls made for them; or a principal) and to refused calls, page by page", async () => {
    await awayFromMinuteEnd();
    const granted = await fetch(`${gateway.url}/api/accounts/acme/grants`, {
      method: "POST", headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
      body: JSON.stringify({ pool_kind: "bonus", unit: "credits", amount: "1", reason: "narrowing the audit log" }),
    });
    expect(granted.status).toBe(200);
    const meter = ledgerAs("meter-narrowed", ["meter"]);
    expect((await grantWith(meter, "narrowed-1"))?.code).toBe(status.PERMISSION_DENIED);
    meter.close();

    // otto's console action, and the ledger's audit of the Grant the gateway made for otto.
    const otto = (await api("/api/audit?actor=otto&page_size=200")).data;
    expect(otto.every((r) => r.actor === "otto" || r.on_behalf_of === "otto")).toBe(true);
    expect(otto.filter((r) => r.reason === "narrowing the audit log").map((r) => [r.source, r.action])).toEqual(expect.arrayContaining([["console", "grant"], ["grpc", "Grant"]]));
    expect((await api("/api/audit?actor=meter-narrowed")).data).toEqual([expect.objectContaining({ action: "Grant", outcome: "PERMISSION_DENIED", count: 1 })]);

    const refused = (await api("/api/audit?refused=true&page_size=200")).data;
    expect(refused.map((r) => r.actor)).toContain("meter-narrowed");
    expect(refused.filter((r) => r.outcome === "OK")).toEqual([]);
    const performed = (await api("/api/audit?refused=false&page_size=200")).data;
    expect(performed.map((r) => r.actor)).not.toContain("meter-narrowed");
    expect(performed.filter((r) => r.reason === "narrowing the audit log")).toHaveLength(2);
    expect((await api("/api/audit?actor=meter-narrowed&refused=false")).data).toEqual([]);

    // Page by page, each row once; a token handed out for other filters is refused.
    const seen: string[] = [];
    let token = "";
    do {
      const page = await api(`/api/audit?actor=otto&page_size=1${token ? `&page_token=${token}` : ""}`);
      seen.push(...page.data.map((r) => String(r.id)));
      token = page.next_page_token;
    } while (token);
    expect(seen).toEqual(otto.map((r) => String(r.id)));
    const unfiltered = (await api("/api/audit?page_size=1")).next_page_token;
    const answer = async (query: string) => {
      const response = await fetch(`${gateway.url}/api/audit?${query}`, { headers: { authorization: `Bearer ${operator}` } });
      return { status: response.status, field: ((await response.json()) as { error?: { field?: string } }).error?.field };
    };
    expect(await answer(`actor=otto&page_token=${unfiltered}`)).toEqual({ status: 400, field: "page_token" });
    expect(await answer("refused=yes")).toEqual({ status: 400, field: "refused" });
    expect(await answer("actor=")).toEqual({ status: 400, field: "actor" });
    expect(await answer(`actor=${"x".repeat(2000)}`)).toEqual({ status: 400, field: "actor" });
  });
});

describe("the audit log's schema", () => {
  it("pages every row once when a row's time moved past newer rows of its log, as a repeated refusal's does", async () => {
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(`update audit.calls set at = now() + interval '1 minute' where call_id = (select min(call_id) from audit.calls)`);
    } finally {
      await sql.end();
    }
    const all = (await api("/api/audit?page_size=200")).data.map((r) => String(r.id));
    for (const size of [1, 3]) {
      const seen: string[] = [];
      let token = "";
      do {
        const page = await api(`/api/audit?page_size=${size}${token ? `&page_token=${token}` : ""}`);
        seen.push(...page.data.map((r) => String(r.id)));
        token = page.next_page_token;
      } while (token);
      expect(seen, `pages of ${size}`).toEqual(all);
    }
  });

  it("is brought up by services starting at the same time", async () => {
    const fresh = await createTestDatabase();
    try {
      const logs = await Promise.all(Array.from({ length: 5 }, () => CallAuditLog.open(fresh.url)));
      await logs[0]!.record({ rpc: "/x/Y", principal: "p", roles: ["admin"], onBehalfOf: undefined, reason: "r", accountId: "a", before: null, after: { n: 1n }, traceId: "", outcome: "OK" });
      expect(await logs[4]!.list({ accountId: "a", limit: 10 })).toEqual([expect.objectContaining({ rpc: "/x/Y", after: { n: "1" }, count: 1, refused: false })]);
      await Promise.all(logs.map((log) => log.close()));
    } finally {
      await fresh.drop();
    }
  });
});

describe("webhook endpoints", () => {
  it("answers a stored signing secret only as its fingerprint (one it generated once, in generated_secrets), keeps it when the fingerprint is sent back, and audits neither", async () => {
    const { notifications } = platform.clients;
    const secret = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3";
    const saved = await call(notifications, notifications.setPreferences, {
      updateFields: [],
      preferences: N.Preferences.fromPartial({
        accountId: "acme",
        webhooks: [{ url: "https://hooks.example.com/tollgate", secret }, { url: "https://hooks.example.com/generated" }],
      }),
    });
    // The one secret it answers is the one it generated, once.
    const generated = saved.generatedSecrets.map((w) => w.secret);
    expect(generated).toEqual([expect.stringMatching(/^whsec_/)]);
    const read = await call(notifications, notifications.getPreferences, { accountId: "acme" });
    for (const answer of [saved.preferences!, read.preferences!]) {
      expect(answer.webhooks[0]!.secret).toMatch(/^sha256:[0-9a-f]{16}$/);
      expect(JSON.stringify(answer)).not.toContain(secret.slice(6, 12));
    }
    const resaved = await call(notifications, notifications.setPreferences, { updateFields: [], preferences: read.preferences! });
    expect(resaved.preferences!.webhooks[0]!.secret).toBe(read.preferences!.webhooks[0]!.secret);
    expect(resaved.generatedSecrets).toEqual([]);
    // The audit log records the change without the secret, sent or generated.
    const rows = (await api("/api/audit?account_id=acme&page_size=200")).data.filter((r) => r.action === "SetPreferences");
    expect(rows.length).toBeGreaterThan(0);
    for (const shown of [secret, generated[0]!]) expect(JSON.stringify(rows)).not.toContain(shown);
  });

  it("refuses preferences for an account the platform does not have, and saves none", async () => {
    const { notifications } = platform.clients;
    const error = await call(notifications, notifications.setPreferences, {
      updateFields: [],
      preferences: N.Preferences.fromPartial({ accountId: "no-such-account", emailRecipients: ["someone@example.com"] }),
    }).then(() => undefined, (e: ServiceError) => e);
    expect(error?.code).toBe(status.NOT_FOUND);
    // Nothing was saved: reading it is NOT_FOUND too (an unknown account has no defaults to show).
    const read = await call(notifications, notifications.getPreferences, { accountId: "no-such-account" }).then(() => undefined, (e: ServiceError) => e);
    expect(read?.code).toBe(status.NOT_FOUND);
  });

  it("refuses at save time a webhook aimed inward, naming the field", async () => {
    const { notifications } = platform.clients;
    for (const url of ["http://169.254.169.254/latest/meta-data", "http://10.0.0.7/hook", "http://[::1]:8080/hook", "https://192.168.1.1/"]) {
      const error = await call(notifications, notifications.setPreferences, {
        updateFields: [],
        preferences: N.Preferences.fromPartial({ accountId: "acme", webhooks: [{ url: "https://hooks.example.com/ok" }, { url }] }),
      }).then(() => undefined, (e: ServiceError) => e);
      expect(error?.code, url).toBe(status.INVALID_ARGUMENT);
      expect(errorDetails(error!).fieldViolations?.[0]?.field ?? error!.details, url).toContain("preferences.webhooks[1].url");
    }
  });
});
