import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { call, createClient, errorDetails, keyToken, pageScope, ROLES, scopedToken, startGrpcServer, unary } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, googleProtobufTimestamp, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

/**
 * Bad input is answered INVALID_ARGUMENT (naming the field), NOT_FOUND or
 * FAILED_PRECONDITION by real services, never INTERNAL; what still fails
 * inside is logged with its stack and trace id.
 */
let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "valid");
  const { pricing, ledger } = platform.clients;
  await call(pricing, pricing.publishRateTable, {
    tableId: "default",
    effectiveFrom: new Date(Date.now() - 30_000),
    rates: [
      { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } } },
      { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "activeMinute", activeMinute: { microsPerMinute: "1000" } } },
      { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "gpuHour", gpuHour: { gpuType: "a100", microsPerReplicaHour: String(CREDIT) } } },
    ],
    actor: "test",
    reason: "runs and deployments",
    idempotencyKey: "",
  });
  await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
    accountId: "valid", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(1_000 * CREDIT),
    reason: "test", actor: "test", idempotencyKey: "valid-grant",
  }));
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, "the call should have been refused").toBeDefined();
  return errorDetails(error);
}

/** Sends raw bytes as the request of `path` on `address`, as a caller with another (or a broken) contract would. */
function raw(address: string, path: string, bytes: Buffer): Promise<unknown> {
  // The test principal's credential: validation runs after authentication.
  const client = createClient(Client, address, platform.serviceCredentials(platform.principal, ROLES));
  return new Promise<unknown>((resolve, reject) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  }).finally(() => client.close());
}

const chargeRequest = (overrides: Partial<ledgerV1.ChargeRequest>): ledgerV1.ChargeRequest =>
  ledgerV1.ChargeRequest.fromPartial({ accountId: "valid", usage: replies("gpt-4o", 1), final: true, idempotencyKey: `k-${Math.random()}`, ...overrides });

describe("refused at the edge, naming the field", () => {
  it("a hold id that is not a UUID", async () => {
    const { ledger } = platform.clients;
    const details = await refusal(call(ledger, ledger.charge, chargeRequest({ holdId: "not-a-uuid" })));
    expect(details.code).toBe(status.INVALID_ARGUMENT);
    expect(details.fieldViolations.map((v) => v.field)).toEqual(["hold_id"]);
    const release = await refusal(call(ledger, ledger.release, { accountId: "valid", holdId: "x'; drop table", idempotencyKey: "r" }));
    expect(release.fieldViolations[0]?.field).toBe("hold_id");
    const adjust = await refusal(call(ledger, ledger.adjust, { accountId: "valid", poolId: "1", amountMicros: "1", reason: "r", actor: "a", idempotencyKey: "a" }));
    expect(adjust.fieldViolations[0]?.field).toBe("pool_id");
  });

  it("NUL characters, strings over their bound, lists over theirs", async () => {
    const { entitlements } = platform.clients;
    const create = (patch: Partial<entitlementsV1.CreateAccountRequest>) =>
      call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "bounded", name: "Bounded", planId: "starter", ...patch }));
    expect((await refusal(create({ name: "a\0b" }))).fieldViolations[0]).toMatchObject({ field: "name", description: "name: must not contain NUL characters" });
    expect((await refusal(create({ name: "n".repeat(257) }))).fieldViolations[0]?.field).toBe("name");
    // An account's name is shown as written (the console, emails): no control or bidirectional character.
    for (const name of ["Acme\u202Egpj.exe", "Acme\u001b[2J"]) expect((await refusal(create({ name }))).fieldViolations[0]?.field, name).toBe("name");
    expect((await refusal(create({ accountId: "a".repeat(129) }))).fieldViolations[0]?.field).toBe("account_id");
    expect((await refusal(create({ adminEmails: Array.from({ length: 21 }, (_, i) => `a${i}@example.com`) }))).fieldViolations[0]?.field).toBe("admin_emails");
    // A budget is removed by the id its scope id makes: no control or bidirectional character there either (as in the scope id).
    const { ledger } = platform.clients;
    for (const budgetId of ["credits/workspace/ws\u001b[2Jx", "credits/workspace/ws\u202Egpj.exe"]) {
      const removal = await refusal(call(ledger, ledger.deleteBudget, { accountId: "valid", budgetId, reason: "r", actor: "a", idempotencyKey: `del-${budgetId.length}` }));
      expect(removal, budgetId).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "budget_id" }] });
    }
    // A 1 MiB name is refused before anything is stored.
    expect((await refusal(create({ name: "x".repeat(1 << 20) }))).code).toBe(status.INVALID_ARGUMENT);
    const listed = await call(entitlements, entitlements.listAccounts, { page: { pageSize: 500, pageToken: "" }, query: "" });
    expect(listed.accounts.map((a) => a.accountId)).not.toContain("bounded");
  });

  it("enum values out of range, nested fields named by their path", async () => {
    const { ledger } = platform.clients;
    const grant = await refusal(call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({ accountId: "valid", poolKind: 99 as entitlementsV1.PoolKind, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "1", reason: "r", actor: "a", idempotencyKey: "g" })));
    expect(grant).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "pool_kind" }] });
    const surface = await refusal(call(ledger, ledger.charge, chargeRequest({ attribution: commonV1.Attribution.fromPartial({ surface: -3 as commonV1.Surface }) })));
    expect(surface.fieldViolations[0]?.field).toBe("attribution.surface");
  });

  it("invalid UTF-8 and bytes that are not a message", async () => {
    const address = platform.ledger.address;
    // GetBalanceRequest.account_id (field 1, length-delimited) holding 0xff 0xfe.
    const utf8 = errorDetails(await raw(address, "/tollgate.ledger.v1.LedgerService/GetBalance", Buffer.from([0x0a, 0x02, 0xff, 0xfe])).catch((e: unknown) => e));
    expect(utf8).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "request" }] });
    expect(utf8.message).toMatch(/UTF-8/);
    // A length that runs past the end of the message.
    const truncated = errorDetails(await raw(address, "/tollgate.ledger.v1.LedgerService/GetBalance", Buffer.from([0x0a, 0x7f, 0x61])).catch((e: unknown) => e));
    expect(truncated.code).toBe(status.INVALID_ARGUMENT);
    // Unknown field numbers are skipped (the contract can grow): this is an empty request, which the handler refuses for what it lacks.
    const unknown = errorDetails(await raw(address, "/tollgate.ledger.v1.LedgerService/GetBalance", Buffer.from([0xf8, 0x3f, 0x01])).catch((e: unknown) => e));
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
  });

  it("timestamps outside 1970–2200, page tokens that do not parse, versions below their range", async () => {
    const { ledger, entitlements, pricing } = platform.clients;
    const far = await refusal(call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "valid", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "1",
      expiresAt: new Date("3000-01-01T00:00:00Z"), reason: "r", actor: "a", idempotencyKey: "far",
    })));
    expect(far.fieldViolations[0]?.field).toBe("expires_at");
    // Nanos outside 0–999,999,999 (which ts-proto would add to the seconds): refused naming the field; in range, answered.
    const since = (nanos: number) => {
      const timestamp = googleProtobufTimestamp.Timestamp.encode({ seconds: String(Math.floor(Date.now() / 1000) - 3_600), nanos }).finish();
      const request = ledgerV1.GetTopUsageRequest.encode(ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "valid", dimension: "model" })).finish();
      return raw(platform.ledger.address, "/tollgate.ledger.v1.LedgerService/GetTopUsage", Buffer.concat([request, Buffer.from([0x1a, timestamp.length]), timestamp]));
    };
    for (const nanos of [-1, 1_000_000_000, 2_000_000_000]) {
      const refused = errorDetails(await since(nanos).catch((e: unknown) => e));
      expect(refused, String(nanos)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "since" }] });
      expect(refused.message).toBe("since: has nanos outside 0 to 999999999");
    }
    await expect(since(999_999_999)).resolves.toBeInstanceOf(Buffer);
    // A time before 1970, as ts-proto's own encoder writes it (negative nanos), is refused for its range.
    const before1970 = errorDetails(await call(ledger, ledger.getTopUsage, ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "valid", dimension: "model", since: new Date(-1) })).catch((e: unknown) => e));
    expect(before1970.message).toBe("since: must be from 1970-01-01T00:00:00.000Z and before 2200-01-01T00:00:00.000Z");
    // An offset, text, and tokens shaped like a cursor but edited: a time that is not whole microseconds, a missing id, an object.
    const edited = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    for (const pageToken of ["-1", "abc", "1e3", "99999999999999999999", edited(["1.5", "valid", "h"]), edited(["1", "valid", ""]), edited({ at: "1" }), `${edited(["1", "valid", "h"])}=`,
      // Well formed, with a hold id that is not a UUID or an account id with a control character: refused before any query.
      edited(["1", "valid", "h"]), edited(["1", "val\u0000id", "00000000-0000-4000-8000-000000000000"])]) {
      // Each as it is and bound to this very list, so what the token holds is read and refused too.
      for (const token of [pageToken, scopedToken(pageScope("ListHolds", ledgerV1.ListHoldsRequest.fromPartial({ accountId: "valid" })), pageToken)]) {
        const details = await refusal(call(ledger, ledger.listHolds, { accountId: "valid", status: 0, page: { pageSize: 10, pageToken: token } }));
        expect(details, token).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "page.page_token" }] });
        expect(details.message, token).not.toContain("another list");
      }
    }
    expect((await refusal(call(ledger, ledger.listHolds, { accountId: "valid", status: 0, page: { pageSize: -1, pageToken: "" } }))).fieldViolations[0]?.field).toBe("page.page_size");
    expect((await refusal(call(entitlements, entitlements.getPlan, { planId: "starter", version: "-1" }))).fieldViolations[0]?.field).toBe("version");
    expect((await refusal(call(pricing, pricing.diffRateTables, { tableId: "default", fromVersion: "0", toVersion: "1" }))).fieldViolations[0]?.field).toBe("from_version");
    const stream = ledger.streamEvents({ afterSequence: "-5" });
    const streamError = await new Promise<unknown>((resolve) => stream.on("error", resolve));
    expect(errorDetails(streamError).fieldViolations[0]?.field).toBe("after_sequence");
  });
});

describe("a key named __proto__", () => {
  it("is a key as any other: a label refused naming it, a configuration value priced, a rule name refused", async () => {
    const { ledger, notifications, pricing } = platform.clients;
    // It was dropped on the way in (the decoder's `labels[key] = value` set the object's prototype instead), and the
    // deployment started without it.
    const deployed = call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "valid", deploymentId: "proto-labels", hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "a100", replicas: "1", seconds: "0" } } }, replicas: 1,
      idempotencyKey: "proto-labels", labels: { ["__proto__"]: "x", team: "ml" },
    }));
    expect(await refusal(deployed)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "labels", description: expect.stringContaining('"__proto__"') }] });

    // A block's price by configuration value keeps every value, whatever it is called.
    const published = await call(pricing, pricing.publishRateTable, {
      tableId: "proto-keys", effectiveFrom: new Date(Date.now() - 30_000), actor: "test", reason: "odd values", idempotencyKey: "",
      rates: [{
        bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS,
        kind: { $case: "block", block: { block: "sandbox", microsPerRun: "1000", configurationKey: "size", microsPerRunByValue: { ["__proto__"]: "7000", large: "5000" } } },
      }],
    });
    const table = await call(pricing, pricing.getRateTable, { tableId: "proto-keys", version: published.table!.version, at: undefined, sequence: "0" });
    const rate = table.table!.rates[0]!.kind;
    expect(rate?.$case === "block" ? Object.entries(rate.block.microsPerRunByValue).sort() : []).toEqual([["__proto__", "7000"], ["large", "5000"]]);

    // A rule by that name is no rule: refused naming it, where it was dropped and the rest stored.
    const preferences = call(notifications, notifications.setPreferences, {
      updateFields: [], preferences: { accountId: "valid", emailRecipients: [], webhooks: [], channelsByRule: { ["__proto__"]: { channels: [1] } } }, idempotencyKey: "",
    });
    expect(await refusal(preferences)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: 'preferences.channels_by_rule["__proto__"]' }] });
  });
});

describe("refused by the use case", () => {
  it("an unknown account is NOT_FOUND on every ledger call that names one", async () => {
    const { ledger } = platform.clients;
    const authorize = await refusal(call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "nobody", estimate: replies("gpt-4o", 1), idempotencyKey: "n" })));
    expect(authorize).toMatchObject({ code: status.NOT_FOUND, reason: "ACCOUNT_NOT_FOUND" });
    expect((await refusal(call(ledger, ledger.charge, chargeRequest({ accountId: "nobody" })))).code).toBe(status.NOT_FOUND);
    expect((await refusal(call(ledger, ledger.getBalance, { accountId: "nobody" }))).code).toBe(status.NOT_FOUND);
    // A list's page too: an empty history of a mistyped account is not an answer.
    expect((await refusal(call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "nobody", page: { pageSize: 10 } })))).code).toBe(status.NOT_FOUND);
    expect((await refusal(call(ledger, ledger.listTools, ledgerV1.ListToolsRequest.fromPartial({ accountId: "nobody", page: { pageSize: 10 } })))).code).toBe(status.NOT_FOUND);
  });

  it("a page token is read only by the list and filters that handed it out: another account's, another filter's or another list's is INVALID_ARGUMENT", async () => {
    const { ledger, entitlements } = platform.clients;
    const entries = (accountId: string, pageToken: string, kind = ledgerV1.EntryKind.ENTRY_KIND_UNSPECIFIED) =>
      call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId, kind, page: { pageSize: 1, pageToken } }));
    const first = await entries("valid", "");
    expect(first.nextPageToken).not.toBe("");
    const second = await entries("valid", first.nextPageToken);
    expect(second.entries[0]?.entryId).not.toBe(first.entries[0]?.entryId);

    const elsewhere = "page.page_token: was handed out for another list or other filters: start again from the first page";
    const refused = [
      await refusal(entries("nobody", first.nextPageToken)),
      await refusal(entries("valid", first.nextPageToken, ledgerV1.EntryKind.ENTRY_KIND_GRANT)),
      await refusal(call(ledger, ledger.listHolds, ledgerV1.ListHoldsRequest.fromPartial({ accountId: "valid", page: { pageToken: first.nextPageToken } }))),
      await refusal(call(ledger, ledger.listTools, ledgerV1.ListToolsRequest.fromPartial({ accountId: "valid", page: { pageToken: first.nextPageToken } }))),
    ];
    expect(refused.map((r) => [r.code, r.fieldViolations[0]?.field, r.message])).toEqual(refused.map(() => [status.INVALID_ARGUMENT, "page.page_token", elsewhere]));

    // A position alone (what tokens held before they named their list) is not a token this service handed out.
    const bare = await refusal(entries("valid", first.nextPageToken.slice(first.nextPageToken.indexOf("~") + 1)));
    expect([bare.code, bare.fieldViolations[0]?.field]).toEqual([status.INVALID_ARGUMENT, "page.page_token"]);

    const accounts = (query: string, pageToken: string) => call(entitlements, entitlements.listAccounts, entitlementsV1.ListAccountsRequest.fromPartial({ query, page: { pageSize: 1, pageToken } }));
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "valid-too", name: "Valid too", planId: "starter", seats: 1 }));
    const page = await accounts("valid", "");
    expect(page.nextPageToken).not.toBe("");
    expect((await accounts("valid", page.nextPageToken)).accounts.map((a) => a.accountId)).toEqual(["valid-too"]);
    expect((await refusal(accounts("valid-", page.nextPageToken))).message).toBe(elsewhere);

    // Bound to its list but edited: a subject id with a control character or an unknown kind never reaches the database.
    const subjects = (pageToken: string) => call(entitlements, entitlements.listSubjects, entitlementsV1.ListSubjectsRequest.fromPartial({ accountId: "valid", page: { pageToken } }));
    const scope = pageScope("ListSubjects", entitlementsV1.ListSubjectsRequest.fromPartial({ accountId: "valid" }));
    for (const key of [["a\u0000", "user"], ["a", "us\u0000er"], ["a", "admin"], ["", "user"], ["a"], ["a".repeat(129), "user"]]) {
      // JSON writes the control character as an escape (`\u0000`): the token's text holds none.
      const token = scopedToken(scope, keyToken(...key));
      const edited = await refusal(subjects(token));
      expect([edited.code, edited.fieldViolations[0]?.field], JSON.stringify(key)).toEqual([status.INVALID_ARGUMENT, "page.page_token"]);
    }
    expect((await subjects(scopedToken(scope, keyToken("a", "user")))).subjects).toEqual([]);
  });

  it("a price whose quantity × rate passes the range is INVALID_ARGUMENT, before anything is written", async () => {
    const { ledger } = platform.clients;
    const before = await call(ledger, ledger.getBalance, { accountId: "valid" });
    const huge = await refusal(call(ledger, ledger.charge, chargeRequest({ usage: replies("gpt-4o", 999_999_999_999) })));
    expect(huge).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "usage" }] });
    const overflow = await refusal(call(ledger, ledger.charge, chargeRequest({ usage: replies("gpt-4o", 10 ** 13) })));
    expect(overflow.fieldViolations[0]?.field).toBe("usage.model_reply.replies");
    expect(await call(ledger, ledger.getBalance, { accountId: "valid" })).toEqual(before);
  });

  it("an empty id that names what to read is INVALID_ARGUMENT naming it, not NOT_FOUND", async () => {
    const { entitlements, pricing } = platform.clients;
    const refused = [
      await refusal(call(entitlements, entitlements.getPlan, { planId: "", version: "0" })),
      await refusal(call(pricing, pricing.getRateTable, { tableId: "", version: "0", at: undefined, sequence: "0" })),
      await refusal(call(pricing, pricing.getRateTable, { tableId: "", version: "1", at: undefined, sequence: "0" })),
      await refusal(call(pricing, pricing.diffRateTables, { tableId: "", fromVersion: "1", toVersion: "2" })),
    ];
    expect(refused.map((r) => [r.code, r.fieldViolations[0]?.field])).toEqual([
      [status.INVALID_ARGUMENT, "plan_id"], [status.INVALID_ARGUMENT, "table_id"], [status.INVALID_ARGUMENT, "table_id"], [status.INVALID_ARGUMENT, "table_id"],
    ]);
    // A version (of plans) or a sequence (of rate tables) names its own: then the id may be left out.
    const { plan } = await call(entitlements, entitlements.getPlan, { planId: "starter", version: "0" });
    expect((await call(entitlements, entitlements.getPlan, { planId: "", version: plan!.version })).plan?.planId).toBe("starter");
    const { table } = await call(pricing, pricing.getRateTable, { tableId: "default", version: "0", at: undefined, sequence: "0" });
    expect((await call(pricing, pricing.getRateTable, { tableId: "", version: "0", at: undefined, sequence: table!.sequence })).table?.tableId).toBe("default");
  });

  it("a plan naming an unknown rate table is FAILED_PRECONDITION", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({ planId: "orphan", name: "Orphan", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(10 * CREDIT) }], rateTableId: "no-such-table" }),
      actor: "test",
      reason: "test",
    });
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "orphaned", name: "Orphaned", planId: "orphan", seats: 1 }));
    const details = await refusal(call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "orphaned", estimate: replies("gpt-4o", 1), idempotencyKey: "o" })));
    expect(details).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "RATE_TABLE_NOT_FOUND" });
  });

  it("what would be dropped or silently changed is refused, naming the field, and nothing is written", async () => {
    const { entitlements, ledger, notifications, pricing } = platform.clients;
    // A reload threshold without the balance to reload to: the pool would never reload.
    const reload = await refusal(call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "valid", poolKind: entitlementsV1.PoolKind.POOL_KIND_ADD_ON, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(10 * CREDIT),
      reloadBelowMicros: String(5 * CREDIT), reason: "test", actor: "test", idempotencyKey: "reload-without-target",
    })));
    expect(reload).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "reload_below_micros" }] });
    const pools = (await call(ledger, ledger.getBalance, { accountId: "valid" })).pools;
    expect(pools.some((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_ADD_ON)).toBe(false);

    // A spend cap on a credits account (the ledger caps only bring-your-own-model spending).
    const capped = await refusal(call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "capped-credits", name: "Capped", planId: "starter", seats: 1, spendCapMicros: String(CREDIT),
    })));
    expect(capped).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "spend_cap_micros" }] });
    expect((await refusal(call(entitlements, entitlements.getAccount, { accountId: "capped-credits" }))).code).toBe(status.NOT_FOUND);

    // Two limit rows for one unit (the last silently won), and a unit's row with what only a kind of work's does.
    const limits = (rows: Partial<entitlementsV1.UsageLimits>[]) =>
      call(entitlements, entitlements.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({ accountId: "valid", limits: rows, actor: "test", reason: "test", idempotencyKey: "" }));
    const unitRow = { unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros: "0", negativeLimitMicros: String(CREDIT) };
    expect(await refusal(limits([unitRow, { ...unitRow, negativeLimitMicros: String(2 * CREDIT) }]))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "limits[1]" }] });
    expect(await refusal(limits([{ ...unitRow, stopMessage: "out of credits" }]))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "limits[0].stop_message" }] });
    expect(await refusal(limits([{ ...unitRow, draftsAtZero: true }]))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "limits[0].drafts_at_zero" }] });
    expect((await call(entitlements, entitlements.getAccount, { accountId: "valid" })).account?.limitOverrides).toEqual([]);

    // A channel that is none (it was stored as webhook); banner alone is kept as banner (no email, no webhook).
    const preferences = (channels: number[]) =>
      call(notifications, notifications.setPreferences, { updateFields: [], preferences: { accountId: "valid", emailRecipients: [], webhooks: [], channelsByRule: { usage_50: { channels } } }, idempotencyKey: "" });
    expect(await refusal(preferences([0]))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: 'preferences.channels_by_rule["usage_50"].channels[0]' }] });
    // A rule no notification is decided by (misspelt, or a threshold as a plan names none): it was stored and never applied.
    // Nor one always sent by every channel (it was stored and never applied).
    for (const rule of ["bogus rule", "threshold_50", "usage_0", "budget_", "negative_limit_reached", "spend_cap_reached"]) {
      expect(await refusal(call(notifications, notifications.setPreferences, {
        updateFields: [], preferences: { accountId: "valid", emailRecipients: [], webhooks: [], channelsByRule: { [rule]: { channels: [1] } } }, idempotencyKey: "",
      })), rule).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: `preferences.channels_by_rule[${JSON.stringify(rule)}]` }] });
    }
    // Two endpoints at one URL with two secrets: a save that sent fingerprints back gave both the first one's.
    const twice = await refusal(call(notifications, notifications.setPreferences, {
      updateFields: [],
      preferences: { accountId: "valid", emailRecipients: [], webhooks: [{ url: "https://hooks.valid.example/a", secret: "" }, { url: "https://hooks.valid.example/a", secret: "" }], channelsByRule: {} }, idempotencyKey: "",
    }));
    expect(twice).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "preferences.webhooks[1].url" }] });
    // An admin email that is not one plain address.
    const group = await refusal(call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "grouped", name: "Grouped", planId: "starter", seats: 1, adminEmails: ["grp:x@evil.example;"] })));
    expect(group).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "admin_emails[0]" }] });
    expect(await refusal(call(notifications, notifications.setPreferences, {
      preferences: { accountId: "valid", emailRecipients: [], webhooks: [], channelsByRule: {} }, idempotencyKey: "", updateFields: ["webhook"],
    }))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "update_fields[0]" }] });
    const banner = await preferences([1]);
    expect(banner.preferences?.channelsByRule).toEqual({ usage_50: { channels: [1] } });

    // A sequence beside a table or version it is not (the table was ignored, and another table's version answered).
    const published = (await call(pricing, pricing.getRateTable, { tableId: "default", version: "0", at: undefined, sequence: "0" })).table!;
    expect(await refusal(call(pricing, pricing.getRateTable, { tableId: "another-table", version: "0", at: undefined, sequence: published.sequence }))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "table_id" }] });
    expect(await refusal(call(pricing, pricing.getRateTable, { tableId: "", version: String(BigInt(published.version) + 1n), at: undefined, sequence: published.sequence }))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "version" }] });
    expect((await call(pricing, pricing.getRateTable, { tableId: "default", version: published.version, at: undefined, sequence: published.sequence })).table).toEqual(published);
    // A negative sequence (it answered the version in effect).
    expect(await refusal(call(pricing, pricing.getRateTable, { tableId: "default", version: "0", at: undefined, sequence: "-5" }))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "sequence" }] });

    // A search for "_" or "%" finds what contains it, not every account.
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "under_score", name: "Under Score", planId: "starter", seats: 1 }));
    const search = async (query: string) => (await call(entitlements, entitlements.listAccounts, { query, page: { pageSize: 100, pageToken: "" } })).accounts.map((a) => a.accountId);
    expect(await search("_")).toEqual(["under_score"]);
    expect(await search("%")).toEqual([]);
    // By an admin's email address too, in any case; the JSON list's own quotes and brackets are not searched.
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "tiny-shop", name: "Tiny Shop", planId: "starter", seats: 1, adminEmails: ["Owner@tiny-shop.example"] }));
    expect(await search("owner@TINY-shop")).toEqual(["tiny-shop"]);
    expect(await search('owner@tiny-shop.example"')).toEqual([]);
    expect(await search("nobody@tiny-shop.example")).toEqual([]);

    // A deployment's endpoint goes into its admins' email as a link: a URL, nothing else.
    const deploy = (endpoint: string, id: string) => call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "valid", deploymentId: id, hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "a100", replicas: "1", seconds: "0" } } }, replicas: 1, idempotencyKey: id, endpoint,
    }));
    for (const endpoint of ["click here: https://evil.example", "https://user:pw@api.example", "javascript:alert(1)", "api.example.com", "https://api.example/a b"]) {
      expect(await refusal(deploy(endpoint, "bad-endpoint")), endpoint).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "endpoint" }] });
    }
    const work = await call(ledger, ledger.listMeteredWork, ledgerV1.ListMeteredWorkRequest.fromPartial({ accountId: "valid", page: { pageSize: 100 } }));
    expect(work.work.map((w) => w.workId)).not.toContain("bad-endpoint");
    expect((await deploy("https://api.example/v1/deployments/x?region=eu#docs", "good-endpoint")).allowed).toBe(true);
    // Only guardrails, custom scripts and hosted models are deployed.
    for (const workKind of [commonV1.WorkKind.WORK_KIND_AGENT_RUN, commonV1.WorkKind.WORK_KIND_MODEL_REPLY, commonV1.WorkKind.WORK_KIND_TOOL_RUN, commonV1.WorkKind.WORK_KIND_FINE_TUNING]) {
      const deployed = call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
        accountId: "valid", deploymentId: "wrong-kind", hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "a100", replicas: "1", seconds: "0" } } }, replicas: 1, idempotencyKey: `wrong-kind-${workKind}`, workKind,
      }));
      expect(await refusal(deployed), String(workKind)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "work_kind" }] });
    }
    const listed = await call(ledger, ledger.listMeteredWork, ledgerV1.ListMeteredWorkRequest.fromPartial({ accountId: "valid", page: { pageSize: 100 } }));
    expect(listed.work.map((w) => w.workId)).not.toContain("wrong-kind");

    // A reason is read back in the journal and the audit log: no character that shows it in another order than written.
    const grant = (reason: string, key: string) => call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "valid", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "1", reason, actor: "a", idempotencyKey: key,
    }));
    expect(await refusal(grant("refund \u202e001 stiderc", "bidi-grant"))).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "reason", description: expect.stringContaining("bidirectional") }] });
    expect((await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "valid", page: { pageSize: 500 } }))).entries.map((e) => e.reason)).not.toContain("refund \u202e001 stiderc");
    expect((await grant("החזר כספי\u200f", "rtl-grant")).entryId).not.toBe("");
  });

  it("a run's calls refuse a deployment's id and a deployment's calls a run's", async () => {
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "valid", runId: "v-run", idempotencyKey: "v-run" }));
    const deployed = await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "valid", deploymentId: "v-dep", replicas: 1, idempotencyKey: "v-dep",
      hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "a100", replicas: "1", seconds: "0" } } },
    }));
    expect(deployed.allowed).toBe(true);
    const scale = await refusal(call(ledger, ledger.scale, { accountId: "valid", deploymentId: "v-run", replicas: 2, idempotencyKey: "s" }));
    expect(scale).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "WORK_KIND_MISMATCH" });
    for (const send of [
      () => call(ledger, ledger.pauseRun, { accountId: "valid", runId: "v-dep", idempotencyKey: "p" }),
      () => call(ledger, ledger.endRun, { accountId: "valid", runId: "v-dep", state: ledgerV1.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "e" }),
      () => call(ledger, ledger.undeploy, { accountId: "valid", deploymentId: "v-run", idempotencyKey: "u" }),
    ]) {
      expect((await refusal(send())).code).toBe(status.FAILED_PRECONDITION);
    }
  });
});

it("an internal error is answered INTERNAL without its message and logged with its stack and the trace id", async () => {
  const server = await startGrpcServer({
    port: 0,
    auth: { disabled: true },
    services: [{
      name: "tollgate.ledger.v1.LedgerService",
      definition: ledgerV1.LedgerServiceService,
      implementation: { getBalance: unary(async () => { throw new Error("induced fault with a secret"); }) },
    }],
  });
  const logged = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const client = new ledgerV1.LedgerServiceClient(server.address, credentials.createInsecure());
  try {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const metadata = new Metadata();
    metadata.set("traceparent", `00-${traceId}-00f067aa0ba902b7-01`);
    const error = await new Promise<ServiceError>((resolve) => client.getBalance({ accountId: "a" }, metadata, (e) => resolve(e!)));
    expect(error.code).toBe(status.INTERNAL);
    expect(error.details).toBe(`internal error (trace ${traceId})`);
    const line = logged.mock.calls.map((args) => String(args[0])).find((text) => text.includes("induced fault"));
    expect(JSON.parse(line!)).toMatchObject({ level: "error", msg: "internal error", trace_id: traceId, error: "induced fault with a secret" });
    expect(JSON.parse(line!).stack).toMatch(/validation\.test\.ts/);
  } finally {
    logged.mockRestore();
    client.close();
    await server.drain();
  }
});
