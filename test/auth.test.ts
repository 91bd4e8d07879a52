import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, makeGenericClientConstructor, Metadata, status } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { SignJWT, importJWK } from "jose";
import { call, createClient, errorDetails, generateIssuerKey, mintToken, startGrpcServer, unary, type Role, type TokenVerifier } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase, type TestIssuer } from "@tollgate/testing";
import { authorizeRequest, CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let issuer: TestIssuer;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  issuer = platform.issuer!;
  await seedStarter(platform, "tenant-a");
  await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId: "tenant-b", name: "Tenant B", planId: "starter", seats: 1,
  }));
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

/** A ledger client calling with `token` (or with no credential at all). */
function ledgerAs(token?: string | (() => Promise<string>), onBehalfOf?: string) {
  return createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, {
    ...(token ? { credentials: token } : {}),
    ...(onBehalfOf ? { onBehalfOf: () => onBehalfOf } : {}),
  });
}

async function as<T>(roles: readonly Role[], run: (ledger: ledgerV1.LedgerServiceClient) => Promise<T>, options: { subject?: string; accounts?: string[]; onBehalfOf?: string } = {}): Promise<T> {
  const token = await issuer.token(options.subject ?? `as-${roles.join("-")}`, roles, options.accounts ? { accounts: options.accounts } : {});
  const ledger = ledgerAs(token, options.onBehalfOf);
  try {
    return await run(ledger);
  } finally {
    ledger.close();
  }
}

const grant = (accountId: string, key: string): ledgerV1.GrantRequest =>
  ledgerV1.GrantRequest.fromPartial({
    accountId,
    poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS,
    unit: commonV1.Unit.UNIT_CREDITS,
    amountMicros: String(1_000_000 * CREDIT),
    reason: "a million credits",
    actor: "mallory",
    idempotencyKey: key,
  });

const available = async (accountId: string) => {
  const { ledger } = platform.clients;
  const balance = await call(ledger, ledger.getBalance, { accountId });
  return balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)?.availableMicros;
};

describe("credentials on every gRPC call", () => {
  it("refuses a Grant without a credential (UNAUTHENTICATED) and changes no balance", async () => {
    await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId: "tenant-a" });
    const before = await available("tenant-a");
    const anonymous = ledgerAs();
    try {
      const error = await call(anonymous, anonymous.grant, grant("tenant-a", "anon-grant")).catch((e: unknown) => e);
      expect(errorDetails(error)).toMatchObject({ code: status.UNAUTHENTICATED, reason: "CREDENTIAL_REQUIRED" });
    } finally {
      anonymous.close();
    }
    expect(await available("tenant-a")).toBe(before);
  });

  it("refuses a meter credential's Grant with PERMISSION_DENIED naming the support role", async () => {
    const error = await as(["meter"], (ledger) => call(ledger, ledger.grant, grant("tenant-a", "meter-grant"))).catch((e: unknown) => e);
    expect(errorDetails(error)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ROLE_REQUIRED", metadata: { role: "support" } });
  });

  it("keeps an account-limited credential to its accounts", async () => {
    const allowed = await as(["meter"], (ledger) => call(ledger, ledger.authorize, authorizeRequest("tenant-a", "limited-a", 1)), { accounts: ["tenant-a"] });
    expect(allowed.allowed).toBe(true);
    const error = await as(["meter"], (ledger) => call(ledger, ledger.authorize, authorizeRequest("tenant-b", "limited-b", 1)), { accounts: ["tenant-a"] }).catch(
      (e: unknown) => e,
    );
    expect(errorDetails(error)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_NOT_PERMITTED", metadata: { account_id: "tenant-b" } });
    const unnamed = await as(["meter"], (ledger) => call(ledger, ledger.authorize, authorizeRequest("", "limited-none", 1)), { accounts: ["tenant-a"] }).catch((e: unknown) => e);
    expect(errorDetails(unnamed)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_NOT_PERMITTED", message: expect.stringContaining("must name one: account_id is empty") });
    // Calls that span accounts or name an object by its own id are not open to it either.
    const byId = await as(["meter"], (ledger) => call(ledger, ledger.getHold, { holdId: allowed.holdId }), { accounts: ["tenant-a"] }).catch((e: unknown) => e);
    expect(errorDetails(byId)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_LIMITED_CREDENTIAL" });
  });

  it("refuses an account-limited admin credential's publication of a rate table or plan (it changes what every account pays), and lets it read them", async () => {
    const token = await issuer.token("tenant-a-admin", ["admin"], { accounts: ["tenant-a"] });
    const pricing = createClient(pricingV1.PricingServiceClient, platform.pricing.address, { credentials: token });
    const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, { credentials: token });
    try {
      const { table } = await call(pricing, pricing.getRateTable, { tableId: "default", version: "0", at: undefined, sequence: "0" });
      const published = await call(pricing, pricing.publishRateTable, pricingV1.PublishRateTableRequest.fromPartial({
        tableId: "default", rates: table!.rates, reason: "everyone pays what I say", actor: "tenant-a-admin", idempotencyKey: "limited-publish",
      })).catch((e: unknown) => e);
      expect(errorDetails(published)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_LIMITED_CREDENTIAL" });
      const { plan } = await call(entitlements, entitlements.getPlan, { planId: "starter", version: "0" });
      const plan2 = await call(entitlements, entitlements.publishPlan, entitlementsV1.PublishPlanRequest.fromPartial({
        plan: plan!, reason: "free credits for all", actor: "tenant-a-admin", idempotencyKey: "limited-plan",
      })).catch((e: unknown) => e);
      expect(errorDetails(plan2)).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_LIMITED_CREDENTIAL" });
      const after = await call(pricing, pricing.getRateTable, { tableId: "default", version: "0", at: undefined, sequence: "0" });
      expect(after.table!.version).toBe(table!.version);
    } finally {
      pricing.close();
      entitlements.close();
    }
  });

  it("lets support, admin and services read an account's alert preferences (webhook URLs may carry their receiver's token), and no meter credential", async () => {
    const readAs = async (roles: readonly Role[]) => {
      const client = createClient(notificationsV1.NotificationsServiceClient, platform.notifications.address, { credentials: await issuer.token(`prefs-${roles.join("-")}`, roles) });
      try {
        return await call(client, client.getPreferences, { accountId: "tenant-a" }).then((answer) => answer.preferences?.accountId, (e: unknown) => errorDetails(e));
      } finally {
        client.close();
      }
    };
    for (const role of ["support", "admin", "service"] as const) expect(await readAs([role]), role).toBe("tenant-a");
    expect(await readAs(["meter"])).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ROLE_REQUIRED", metadata: { role: "support,admin,service" } });
  });

  it("refuses a token without exp, a token of an unknown issuer and an expired token", async () => {
    const key = await importJWK(issuer.privateJwk, "ES256");
    const noExp = await new SignJWT({ roles: ["meter"] })
      .setProtectedHeader({ alg: "ES256", kid: issuer.privateJwk.kid! })
      .setIssuer(issuer.name)
      .setSubject("forever")
      .setAudience("tollgate")
      .sign(key);
    const stranger = await generateIssuerKey("stranger");
    const foreign = await mintToken(stranger.privateJwk, { issuer: issuer.name, subject: "forger", roles: ["support"], ttlSeconds: 600 });
    const expired = await mintToken(issuer.privateJwk, { issuer: issuer.name, subject: "late", roles: ["meter"], ttlSeconds: -10 });
    // A credential that would outlive AUTH_MAX_TOKEN_DAYS (31 by default): a leaked one must stop working in bounded time.
    const tooLong = await mintToken(issuer.privateJwk, { issuer: issuer.name, subject: "decade", roles: ["meter"], ttlSeconds: 32 * 86_400 });
    // The subject is recorded as the actor of what the caller does: empty, or with a control or bidirectional character, it names no one.
    const unnamed = await Promise.all(["", "ops\u001b[2J", "bot\u202Eliam", "x".repeat(129)].map((subject) =>
      mintToken(issuer.privateJwk, { issuer: issuer.name, subject, roles: ["meter"], ttlSeconds: 600 })));
    for (const token of [noExp, foreign, expired, "not-a-jwt", tooLong, ...unnamed]) {
      const ledger = ledgerAs(token);
      try {
        const error = await call(ledger, ledger.getBalance, { accountId: "tenant-a" }).catch((e: unknown) => e);
        expect(errorDetails(error)).toMatchObject({ code: status.UNAUTHENTICATED, reason: "CREDENTIAL_INVALID" });
        if (token === tooLong) expect(errorDetails(error).message).toContain("expires more than 31 days ahead");
        // In plain words, not jose's ("exp" claim timestamp check failed).
        if (token === expired) expect(errorDetails(error).message).toMatch(/^the credential is not valid: it expired at \d{4}-\d\d-\d\dT[\d:.]+Z; get a new one$/);
        if (token === foreign) expect(errorDetails(error).message).toBe("the credential is not valid: no key of its issuer matches its kid");
        if (token === noExp) expect(errorDetails(error).message).toBe("the credential is not valid: it has no exp claim");
        if (unnamed.includes(token)) expect(errorDetails(error).message).toContain("sub must name the caller");
      } finally {
        ledger.close();
      }
    }
    const month = ledgerAs(await mintToken(issuer.privateJwk, { issuer: issuer.name, subject: "month", roles: ["meter"], ttlSeconds: 30 * 86_400 }));
    try {
      expect((await call(month, month.getBalance, { accountId: "tenant-a" })).accountId, "30 days, as npm start's own tokens, is fine").toBe("tenant-a");
    } finally {
      month.close();
    }
  });

  it("records the authenticated principal as the journal's actor, and whom a service acted for", async () => {
    await as(["support"], (ledger) => call(ledger, ledger.grant, grant("tenant-a", "support-grant")), { subject: "support-sam" });
    await as(["support", "service"], (ledger) => call(ledger, ledger.grant, grant("tenant-a", "console-grant")), { subject: "console", onBehalfOf: "carol" });
    const { ledger } = platform.clients;
    const entries = await call(ledger, ledger.listEntries, {
      accountId: "tenant-a", holdId: "", kind: ledgerV1.EntryKind.ENTRY_KIND_GRANT, page: { pageSize: 10, pageToken: "" }, attribution: {}, recordedFrom: undefined, recordedBefore: undefined,
    });
    const byReason = entries.entries.filter((e) => e.reason === "a million credits").map((e) => ({ actor: e.actor, onBehalfOf: e.onBehalfOf }));
    expect(byReason).toEqual(expect.arrayContaining([{ actor: "support-sam", onBehalfOf: "" }, { actor: "console", onBehalfOf: "carol" }]));
    expect(byReason).toHaveLength(2);
    // A charge names its caller too.
    const charged = await as(["meter"], (ledger) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "tenant-a", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "chat-charge",
    })), { subject: "chat-backend" });
    const charges = await call(ledger, ledger.listEntries, {
      accountId: "tenant-a", holdId: "", kind: ledgerV1.EntryKind.ENTRY_KIND_CHARGE, page: { pageSize: 100, pageToken: "" }, attribution: {}, recordedFrom: undefined, recordedBefore: undefined,
    });
    expect(charges.entries.find((e) => e.entryId === charged.entryId)).toMatchObject({ actor: "chat-backend", onBehalfOf: "" });
  });

  it("accepts on-behalf-of only from a service principal (a name beyond ASCII, sent as UTF-8 bytes, too)", async () => {
    for (const onBehalfOf of ["carol", "zoë"]) {
      const error = await as(["support"], (ledger) => call(ledger, ledger.grant, grant("tenant-a", "impostor-grant")), { onBehalfOf }).catch((e: unknown) => e);
      expect(errorDetails(error), onBehalfOf).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ON_BEHALF_OF_NOT_PERMITTED", metadata: { role: "service" } });
    }
    // From a service, the name is recorded beside the actor: one that is no name is refused, naming the header, and nothing is written.
    for (const onBehalfOf of ["x".repeat(129), "a\u202Eb", "carol\nmallory"]) {
      const error = await as(["support", "service"], (ledger) => call(ledger, ledger.grant, grant("tenant-a", `unnamed-${onBehalfOf.length}`)), { onBehalfOf }).catch((e: unknown) => e);
      expect(errorDetails(error), JSON.stringify(onBehalfOf)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "x-tollgate-on-behalf-of" }] });
    }
    const { ledger } = platform.clients;
    const written = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "tenant-a", page: { pageSize: 500, pageToken: "" } }));
    expect(written.entries.filter((e) => e.onBehalfOf.includes("mallory") || e.onBehalfOf.length > 128)).toEqual([]);
  });

  it("needs admin for the deprecated UpdateAccount, support for SetAccountControls, and the suspension reaches the ledger within a second", async () => {
    const entitlementsAs = async (roles: Role[]) =>
      createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, { credentials: await issuer.token("desk", roles) });
    const support = await entitlementsAs(["support"]);
    try {
      const suspend = { accountId: "tenant-b", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED, limits: [], reason: "unpaid", idempotencyKey: "" };
      const legacy = await call(support, support.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({ ...suspend, actor: "desk" })).catch((e: unknown) => e);
      expect(errorDetails(legacy)).toMatchObject({ code: status.PERMISSION_DENIED, metadata: { role: "admin" } });
      const plan = await call(support, support.changeAccountPlan, { accountId: "tenant-b", planId: "starter", seats: 2, reason: "upsell", idempotencyKey: "" }).catch(
        (e: unknown) => e,
      );
      expect(errorDetails(plan)).toMatchObject({ code: status.PERMISSION_DENIED, metadata: { role: "admin" } });

      const { ledger } = platform.clients;
      expect((await call(ledger, ledger.authorize, authorizeRequest("tenant-b", "before-suspend", 0))).reason).not.toBe(ledgerV1.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED);
      const suspended = await call(support, support.setAccountControls, suspend);
      expect(suspended.account?.status).toBe(entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED);
      let attempt = 0;
      await eventually(async () => {
        const hold = await call(ledger, ledger.authorize, authorizeRequest("tenant-b", `after-suspend-${attempt++}`, 0));
        return hold.reason === ledgerV1.DenialReason.DENIAL_REASON_ACCOUNT_SUSPENDED ? hold : undefined;
      }, 1_000, "the suspension in the ledger");
    } finally {
      support.close();
    }
  });

  it("keeps health checks open", async () => {
    const Health = makeGenericClientConstructor(healthService, "Health");
    const health = new Health(platform.ledger.address, credentials.createInsecure()) as unknown as {
      check(request: { service: string }, metadata: Metadata, callback: (error: Error | null, response: { status: string | number }) => void): void;
      close(): void;
    };
    try {
      const answer = await new Promise<{ status: string | number }>((resolve, reject) =>
        health.check({ service: "tollgate.ledger.v1.LedgerService" }, new Metadata(), (error, response) => (error ? reject(error) : resolve(response))),
      );
      expect(answer.status).toBe("SERVING");
    } finally {
      health.close();
    }
  });
});

describe("per-principal rate limits on gRPC", () => {
  it("refuses a flooding principal with RESOURCE_EXHAUSTED and retry info while another keeps calling", async () => {
    const { startPricingService } = await import("@tollgate/pricing");
    const pricing = await startPricingService({ databaseUrl: db.url, port: 0, auth: issuer.auth, rateLimit: { perSecond: 0.001, burst: 5 } });
    const clientAs = async (subject: string) =>
      createClient(pricingV1.PricingServiceClient, pricing.address, { credentials: await issuer.token(subject, ["meter"]) });
    const flood = await clientAs("flood");
    const quiet = await clientAs("quiet");
    try {
      const list = (client: pricingV1.PricingServiceClient) => call(client, client.listRateTableVersions, { tableId: "", page: undefined });
      const answers = await Promise.allSettled(Array.from({ length: 20 }, () => list(flood)));
      const refused = answers.filter((a): a is PromiseRejectedResult => a.status === "rejected");
      expect(answers.length - refused.length).toBe(5);
      expect(errorDetails(refused[0]!.reason)).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED", metadata: { principal: "flood" } });
      expect(errorDetails(refused[0]!.reason).retryDelayMs).toBeGreaterThan(0);
      await expect(list(quiet)).resolves.toBeDefined();
    } finally {
      flood.close();
      quiet.close();
      await pricing.stop();
    }
  });
});

describe("refused calls per address", () => {
  it("answers an address past its refusals RESOURCE_EXHAUSTED without verifying or recording more, while a token verified before still passes", async () => {
    const base = (issuer.auth as { verifier: TokenVerifier }).verifier;
    let verified = 0;
    let recorded = 0;
    let answered = 0;
    // The issuer's verifier, counting the signature checks it is asked for.
    const verifier: TokenVerifier = { verify: (token) => ((verified += 1), base.verify(token)), knows: (token) => base.knows?.(token) === true };
    const server = await startGrpcServer({
      port: 0,
      auth: { verifier },
      refusalLimit: { perSecond: 0.001, burst: 5 },
      audit: { record: async () => {}, refused: async () => void (recorded += 1) },
      services: [{
        name: "tollgate.ledger.v1.LedgerService",
        definition: ledgerV1.LedgerServiceService,
        implementation: { getBalance: unary(async () => { answered += 1; return ledgerV1.GetBalanceResponse.fromPartial({ accountId: "tenant-a" }); }) },
      }],
    });
    const forged = await mintToken((await generateIssuerKey("forger")).privateJwk, { issuer: issuer.name, subject: "forger", roles: ["support"], ttlSeconds: 600 });
    const clientWith = async (credentials: string) => createClient(ledgerV1.LedgerServiceClient, server.address, { credentials });
    const badCaller = await clientWith(forged);
    const goodCaller = await clientWith(await issuer.token("good", ["support"]));
    const newCaller = await clientWith(await issuer.token("new", ["support"]));
    const codeOf = async (client: ledgerV1.LedgerServiceClient) => errorDetails(await call(client, client.getBalance, { accountId: "tenant-a" }).catch((e: unknown) => e)).code;
    try {
      expect(await call(goodCaller, goodCaller.getBalance, { accountId: "tenant-a" })).toMatchObject({ accountId: "tenant-a" });
      verified = 0;
      const codes: number[] = [];
      for (let i = 0; i < 8; i += 1) codes.push(await codeOf(badCaller));
      expect(codes).toEqual([...Array(5).fill(status.UNAUTHENTICATED), ...Array(3).fill(status.RESOURCE_EXHAUSTED)]);
      // Only the five refusals were verified and recorded: the throttled calls cost neither.
      expect([verified, recorded]).toEqual([5, 5]);
      const limited = await call(badCaller, badCaller.getBalance, { accountId: "tenant-a" }).catch((e: unknown) => e);
      expect(errorDetails(limited)).toMatchObject({ reason: "RATE_LIMITED", metadata: { principal: expect.stringMatching(/^address:(127\.0\.0\.1|::1)$/) } });
      expect(errorDetails(limited).retryDelayMs).toBeGreaterThan(0);
      // The address is shared: a caller whose token was verified before is still served; a token not seen yet waits.
      expect(await call(goodCaller, goodCaller.getBalance, { accountId: "tenant-a" })).toMatchObject({ accountId: "tenant-a" });
      expect(await codeOf(newCaller)).toBe(status.RESOURCE_EXHAUSTED);
      expect(answered).toBe(2);
    } finally {
      for (const client of [badCaller, goodCaller, newCaller]) client.close();
      await server.drain();
    }
  });
});
