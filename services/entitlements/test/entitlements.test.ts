import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createClient, errorDetails, ROLES } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase, TEST_PRINCIPAL, testIssuer } from "@tollgate/testing";
import { startEntitlementsService, type EntitlementsService } from "../src/index.js";

let db: TestDatabase;
let service: EntitlementsService;
let client: entitlementsV1.EntitlementsServiceClient;

const plan = (credits: number) =>
  entitlementsV1.Plan.fromPartial({
    planId: "team",
    name: "Team",
    allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(credits * 1_000_000), buckets: [] }],
    thresholds: { bannerPercents: [50, 100], emailPercents: [50] },
  });

const account = (id: string, seats = 3) =>
  entitlementsV1.CreateAccountRequest.fromPartial({ accountId: id, name: `Org ${id}`, planId: "team", seats, adminEmails: ["ops@example.com"] });

beforeAll(async () => {
  db = await createTestDatabase();
  const issuer = await testIssuer();
  service = await startEntitlementsService({ databaseUrl: db.url, port: 0, auth: issuer.auth });
  client = createClient(entitlementsV1.EntitlementsServiceClient, service.address, { credentials: issuer.credential(TEST_PRINCIPAL, ROLES) });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.drop();
});

describe("plans and accounts", () => {
  it("keeps an account on its plan version until it is moved", async () => {
    const v1 = await call(client, client.publishPlan, { plan: plan(100), actor: "admin", reason: "launch" });
    await call(client, client.createAccount, account("org-a"));
    const v2 = await call(client, client.publishPlan, { plan: plan(150), actor: "admin", reason: "more credits" });
    expect(BigInt(v2.plan!.version)).toBeGreaterThan(BigInt(v1.plan!.version));

    const stayed = await call(client, client.getAccount, { accountId: "org-a" });
    expect(stayed.plan?.version).toBe(v1.plan!.version);
    expect(stayed.plan?.allotments[0]?.amountMicros).toBe("100000000");

    const moved = await call(client, client.updateAccount, {
      accountId: "org-a", planId: "team", status: 0, seats: 0, actor: "admin", reason: "move to current version", idempotencyKey: "", limits: [],
    });
    expect(moved.account?.planVersion).toBe(v2.plan!.version);
    expect(BigInt(moved.account!.revision)).toBeGreaterThan(BigInt(stayed.account!.revision));

    const versions = await call(client, client.listPlans, { page: undefined, allVersions: true });
    expect(versions.plans.map((p) => p.version)).toEqual([v1.plan!.version, v2.plan!.version]);
    const latest = await call(client, client.listPlans, { page: undefined, allVersions: false });
    expect(latest.plans.map((p) => p.version)).toEqual([v2.plan!.version]);
  });

  it("keeps both of two limit changes made at once on one account (each applies over the other, neither undoes it)", async () => {
    await call(client, client.createAccount, account("org-race"));
    const setLimit = (unit: commonV1.Unit, lowCredit: number, idempotencyKey: string) =>
      call(client, client.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({
        accountId: "org-race", limits: [{ unit, lowCreditLimitMicros: String(lowCredit), negativeLimitMicros: "0" }], reason: "race", idempotencyKey,
      }));
    for (let round = 1; round <= 5; round += 1) {
      // One keyed (inside its key's transaction), one not (a transaction of its own).
      await Promise.all([setLimit(commonV1.Unit.UNIT_CREDITS, round, `race-${round}`), setLimit(commonV1.Unit.UNIT_TOOL_RUNS, round, "")]);
      const { account: now } = await call(client, client.getAccount, { accountId: "org-race" });
      const low = Object.fromEntries(now!.limitOverrides.map((o) => [o.unit, o.lowCreditLimitMicros]));
      expect(low, `round ${round}`).toEqual({ [commonV1.Unit.UNIT_CREDITS]: String(round), [commonV1.Unit.UNIT_TOOL_RUNS]: String(round) });
    }
  });

  it("returns the original account for a repeated create and refuses a different one with the same id", async () => {
    const first = await call(client, client.createAccount, account("org-b"));
    const again = await call(client, client.createAccount, account("org-b"));
    expect(again.account).toEqual(first.account);
    const clash = await call(client, client.createAccount, account("org-b", 9)).catch((e: unknown) => e);
    expect(errorDetails(clash)).toMatchObject({ code: 6, reason: "ACCOUNT_EXISTS" });
  });

  it("answers creates of one account sent at once as repeats of the first: the same account to each, none refused", async () => {
    for (let round = 1; round <= 3; round += 1) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => call(client, client.createAccount, account(`org-burst-${round}`))));
      expect(new Set(answers.map((a) => JSON.stringify(a.account))).size, `round ${round}`).toBe(1);
    }
    const clash = await Promise.allSettled([call(client, client.createAccount, account("org-burst-clash")), call(client, client.createAccount, account("org-burst-clash", 9))]);
    expect(clash.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(errorDetails(clash.find((r) => r.status === "rejected")!.reason)).toMatchObject({ code: 6, reason: "ACCOUNT_EXISTS" });
  });

  it("names the bad field of an invalid plan or account", async () => {
    const badPlan = await call(client, client.publishPlan, {
      plan: { ...plan(1), thresholds: { bannerPercents: [50, 20], emailPercents: [], upgradePromptPercent: 0, referralPromptPercent: 0 } },
      actor: "admin",
      reason: "",
    }).catch((e: unknown) => e);
    expect(errorDetails(badPlan).fieldViolations[0]?.field).toBe("plan.thresholds.banner_percents[1]");
    // A rate table no table could be named by (pricing's shape): refused here, not at every Authorize of its accounts.
    for (const rateTableId of ["x".repeat(65), "default\t", "Default"]) {
      const badTable = await call(client, client.publishPlan, { plan: { ...plan(1), rateTableId }, actor: "admin", reason: "" }).catch((e: unknown) => e);
      expect(errorDetails(badTable), rateTableId).toMatchObject({ code: 3, fieldViolations: [{ field: "plan.rate_table_id" }] });
    }

    const price = (usdMicrosPerUnit: string) => ({ unit: commonV1.Unit.UNIT_CREDITS, usdMicrosPerUnit });
    for (const [addOnPrices, field] of [
      [[price("-1")], "plan.add_on_prices[0].usd_micros_per_unit"],
      [[price("1000000000000001")], "plan.add_on_prices[0].usd_micros_per_unit"],
      [[price("10000"), price("20000")], "plan.add_on_prices[1].unit"],
      [[{ unit: commonV1.Unit.UNIT_UNSPECIFIED, usdMicrosPerUnit: "1" }], "plan.add_on_prices[0].unit"],
    ] as const) {
      const badPrice = await call(client, client.publishPlan, { plan: { ...plan(1), addOnPrices: [...addOnPrices] }, actor: "admin", reason: "" }).catch((e: unknown) => e);
      expect(errorDetails(badPrice)).toMatchObject({ code: 3, fieldViolations: [{ field }] });
    }

    const grant = (amountMicros: string, unit = commonV1.Unit.UNIT_CREDITS) => ({ unit, amountMicros, expiresAfterDays: 30, buckets: [] });
    for (const [signupGrants, field] of [
      [[grant("5000000"), grant("7000000")], "plan.signup_grants[1].unit"],
      [[grant("0")], "plan.signup_grants[0].amount_micros"],
      [[grant("1", commonV1.Unit.UNIT_UNSPECIFIED)], "plan.signup_grants[0].unit"],
    ] as const) {
      const badGrant = await call(client, client.publishPlan, { plan: { ...plan(1), signupGrants: [...signupGrants] }, actor: "admin", reason: "" }).catch((e: unknown) => e);
      expect(errorDetails(badGrant)).toMatchObject({ code: 3, fieldViolations: [{ field }] });
    }

    // A negative low-credit limit would have the ledger refuse every write on the plan's accounts.
    const limit = (lowCreditLimitMicros: string, negativeLimitMicros: string) =>
      entitlementsV1.UsageLimits.fromPartial({ unit: commonV1.Unit.UNIT_CREDITS, lowCreditLimitMicros, negativeLimitMicros });
    for (const [limits, field] of [
      [[limit("-1", "0")], "plan.limits[0].low_credit_limit_micros"],
      [[limit("0", "-1")], "plan.limits[0].negative_limit_micros"],
    ] as const) {
      const badLimit = await call(client, client.publishPlan, { plan: { ...plan(1), limits: [...limits] }, actor: "admin", reason: "" }).catch((e: unknown) => e);
      expect(errorDetails(badLimit)).toMatchObject({ code: 3, fieldViolations: [{ field }] });
    }

    const badSeats = await call(client, client.createAccount, account("org-c", 0)).catch((e: unknown) => e);
    expect(errorDetails(badSeats).fieldViolations[0]?.field).toBe("seats");

    const unknownPlan = await call(client, client.createAccount, { ...account("org-d"), planId: "nope" }).catch((e: unknown) => e);
    expect(errorDetails(unknownPlan)).toMatchObject({ code: 5, message: expect.stringContaining("nope") });
  });
});

describe("attribution subjects", () => {
  it("keeps an account's workspace groups, workspaces and users, checking each parent", async () => {
    await call(client, client.createAccount, account("org-s"));
    const S = entitlementsV1.SubjectKind;
    const upsert = (kind: entitlementsV1.SubjectKind, subjectId: string, parentId = "", email = "") =>
      call(client, client.upsertSubject, { subject: entitlementsV1.Subject.fromPartial({ accountId: "org-s", kind, subjectId, name: subjectId, parentId, email }) });
    await upsert(S.SUBJECT_KIND_WORKSPACE_GROUP, "group-eng");
    await upsert(S.SUBJECT_KIND_WORKSPACE, "ws-platform", "group-eng");
    await upsert(S.SUBJECT_KIND_USER, "chen", "ws-platform", "chen@example.com");
    const orphan = await upsert(S.SUBJECT_KIND_WORKSPACE, "ws-x", "group-missing").catch((e: unknown) => e);
    expect(errorDetails(orphan).fieldViolations[0]?.field).toBe("subject.parent_id");
    const users = await call(client, client.listSubjects, { accountId: "org-s", kind: S.SUBJECT_KIND_USER, page: undefined });
    expect(users.subjects).toMatchObject([{ subjectId: "chen", parentId: "ws-platform", email: "chen@example.com" }]);
    const all = await call(client, client.listSubjects, { accountId: "org-s", kind: 0, page: undefined });
    expect(all.subjects.map((s) => s.subjectId)).toEqual(["chen", "group-eng", "ws-platform"]);

    // A user and a workspace group of the same id, one to a page: both listed, each once.
    await upsert(S.SUBJECT_KIND_USER, "group-eng", "ws-platform", "eng@example.com");
    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await call(client, client.listSubjects, { accountId: "org-s", kind: 0, page: { pageSize: 1, pageToken } });
      paged.push(...page.subjects.map((s) => `${s.subjectId}/${S[s.kind]}`));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(["chen/SUBJECT_KIND_USER", "group-eng/SUBJECT_KIND_USER", "group-eng/SUBJECT_KIND_WORKSPACE_GROUP", "ws-platform/SUBJECT_KIND_WORKSPACE"]);
  });
});

describe("idempotency keys", () => {
  const keyedPlan = (credits: number) => ({ ...plan(credits), planId: "keyed" });
  const planVersions = async (planId: string) =>
    (await call(client, client.listPlans, { page: { pageSize: 500, pageToken: "" }, allVersions: true })).plans.filter((p) => p.planId === planId).map((p) => p.version);
  const reused = (key: string) => ({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED", message: expect.stringContaining(key), metadata: { idempotency_key: key } });
  const updateSeats = (accountId: string, seats: number, idempotencyKey: string) =>
    call(client, client.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({ accountId, seats, actor: "admin", reason: "seats", idempotencyKey }));

  it("publishes a plan once when PublishPlan is retried with the same key, and refuses the key for another plan document", async () => {
    await call(client, client.publishPlan, { plan: plan(100), actor: "admin", reason: "team exists" });
    const first = await call(client, client.publishPlan, { plan: keyedPlan(10), actor: "admin", reason: "launch", idempotencyKey: "plan-keyed-1" });
    const retry = await call(client, client.publishPlan, { plan: keyedPlan(10), actor: "admin", reason: "launch", idempotencyKey: "plan-keyed-1" });
    expect(retry).toEqual(first);
    expect(await planVersions("keyed")).toEqual([first.plan!.version]);

    const other = await call(client, client.publishPlan, { plan: keyedPlan(20), actor: "admin", reason: "launch", idempotencyKey: "plan-keyed-1" }).catch((e: unknown) => e);
    expect(errorDetails(other)).toMatchObject(reused("plan-keyed-1"));
    expect(await planVersions("keyed")).toEqual([first.plan!.version]);

    // Without a key every publish is a version, as before keys were honoured.
    await call(client, client.publishPlan, { plan: keyedPlan(10), actor: "admin", reason: "launch" });
    await call(client, client.publishPlan, { plan: keyedPlan(10), actor: "admin", reason: "launch", idempotencyKey: "" });
    expect(await planVersions("keyed")).toHaveLength(3);

    const long = await call(client, client.publishPlan, { plan: keyedPlan(10), actor: "admin", reason: "launch", idempotencyKey: "k".repeat(129) }).catch((e: unknown) => e);
    expect(errorDetails(long)).toMatchObject({ code: 3, fieldViolations: [{ field: "idempotency_key" }] });
  });

  it("answers a retried CreateAccount with the recorded account and refuses the key for another account document", async () => {
    const first = await call(client, client.createAccount, { ...account("org-keyed"), idempotencyKey: "create-1" });
    await updateSeats("org-keyed", 7, "");
    const retry = await call(client, client.createAccount, { ...account("org-keyed"), idempotencyKey: "create-1" });
    expect(retry).toEqual(first);
    expect(retry.account?.seats).toBe(3);

    const other = await call(client, client.createAccount, { ...account("org-keyed"), name: "Another org", idempotencyKey: "create-1" }).catch((e: unknown) => e);
    expect(errorDetails(other)).toMatchObject(reused("create-1"));
    // A key answers one operation: the create's key is not an update's.
    expect(errorDetails(await updateSeats("org-keyed", 9, "create-1").catch((e: unknown) => e))).toMatchObject(reused("create-1"));
    expect((await call(client, client.getAccount, { accountId: "org-keyed" })).account?.seats).toBe(7);
  });

  it("changes an account once when UpdateAccount is retried with the same key, and refuses the key for another change", async () => {
    await call(client, client.createAccount, account("org-update"));
    const first = await updateSeats("org-update", 5, "seats-5");
    const retry = await updateSeats("org-update", 5, "seats-5");
    expect(retry).toEqual(first);
    expect((await call(client, client.getAccount, { accountId: "org-update" })).account?.revision).toBe(first.account!.revision);

    const other = await updateSeats("org-update", 6, "seats-5").catch((e: unknown) => e);
    expect(errorDetails(other)).toMatchObject(reused("seats-5"));
    expect((await call(client, client.getAccount, { accountId: "org-update" })).account).toMatchObject({ seats: 5, revision: first.account!.revision });

    // A refused call records nothing: its key stays free.
    const refused = await call(client, client.updateAccount, entitlementsV1.UpdateAccountRequest.fromPartial({ accountId: "org-update", planId: "nope", actor: "admin", reason: "typo", idempotencyKey: "refused-1" })).catch((e: unknown) => e);
    expect(errorDetails(refused)).toMatchObject({ code: 5 });
    expect((await updateSeats("org-update", 5, "refused-1")).account?.seats).toBe(5);

    // The split halves keep their keys too.
    const suspend = () =>
      call(client, client.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({ accountId: "org-update", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED, reason: "fraud", idempotencyKey: "suspend-1" }));
    const suspended = await suspend();
    await call(client, client.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({ accountId: "org-update", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_ACTIVE, reason: "cleared" }));
    expect(await suspend()).toEqual(suspended);
    expect((await call(client, client.getAccount, { accountId: "org-update" })).account?.status).toBe(entitlementsV1.AccountStatus.ACCOUNT_STATUS_ACTIVE);
    const seats = () => call(client, client.changeAccountPlan, entitlementsV1.ChangeAccountPlanRequest.fromPartial({ accountId: "org-update", seats: 8, reason: "grow", idempotencyKey: "grow-8" }));
    expect(await seats()).toEqual(await seats());

    // Without a key every update is a change, as before.
    const a = await updateSeats("org-update", 4, "");
    const b = await updateSeats("org-update", 4, "");
    expect(BigInt(b.account!.revision)).toBeGreaterThan(BigInt(a.account!.revision));
  });

  it("answers a retried UpsertSubject with the recorded subject and writes nothing", async () => {
    await call(client, client.createAccount, account("org-subjects"));
    const group = (name: string, idempotencyKey?: string) =>
      call(client, client.upsertSubject, {
        subject: entitlementsV1.Subject.fromPartial({ accountId: "org-subjects", kind: entitlementsV1.SubjectKind.SUBJECT_KIND_WORKSPACE_GROUP, subjectId: "eng", name }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
    const first = await group("Eng", "subject-1");
    await group("Engineering");
    expect(await group("Eng", "subject-1")).toEqual(first);
    const stored = await call(client, client.listSubjects, { accountId: "org-subjects", kind: 0, page: undefined });
    expect(stored.subjects.map((s) => s.name)).toEqual(["Engineering"]);
    expect(errorDetails(await group("R&D", "subject-1").catch((e: unknown) => e))).toMatchObject(reused("subject-1"));
  });
});
