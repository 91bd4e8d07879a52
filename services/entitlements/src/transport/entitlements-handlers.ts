import { workKindFromProto } from "@tollgate/eligibility";
import { answerOnce, type IdempotencyStore, type LogFollower } from "@tollgate/db";
import { InvalidArgumentError } from "@tollgate/errors";
import { actorOf, encodedSize, keyToken, notOurToken, page, pageOffset, pageScope, pageSize, scopedToken, serverStream, tokenKey, tokenKeys, tokenPosition, UNAUTHENTICATED_ACTOR, unary, type HandlerOptions } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import { int64 } from "@tollgate/rating";
import type { Account } from "../data/account.entity.js";
import type { EntitlementsStore } from "../data/entitlements-store.js";
import type { PlanVersion } from "../data/plan-version.entity.js";
import type { Accounts } from "../domain/accounts.js";
import { bucketToProto, decideEligibility, eligibilityRulesFromProto, meteredBucketsFromProto, runContextFromProto } from "@tollgate/eligibility";
import type { Plans } from "../domain/plans.js";
import type { Subject } from "../data/subject.entity.js";
import { SUBJECT_KINDS, type SubjectKind, type Subjects } from "../domain/subjects.js";
import { accountToProto, billingModeFromProto, deploymentModeFromProto, planToProto } from "./codec.js";

const E = entitlementsV1;


function subjectKindName(kind: entitlementsV1.SubjectKind): SubjectKind {
  if (!kind) throw new InvalidArgumentError("subject.kind", "is required");
  return E.subjectKindToJSON(kind).slice("SUBJECT_KIND_".length).toLowerCase() as SubjectKind;
}

/**
 * Where a ListSubjects page starts: after a subject id and kind (its token's keys), since a user and a group may share
 * an id. INVALID_ARGUMENT for a kind no subject has: an edited token reaches the database only as a subject could be.
 */
function subjectAfter(token: string): { subjectId: string; kind?: string } {
  const [subjectId = "", kind] = tokenKeys(token, 2);
  if (kind !== undefined && !(SUBJECT_KINDS as readonly string[]).includes(kind)) throw notOurToken();
  return { subjectId, ...(kind === undefined ? {} : { kind }) };
}

function subjectToProto(s: Subject): entitlementsV1.Subject {
  return {
    accountId: s.accountId,
    kind: E.subjectKindFromJSON(`SUBJECT_KIND_${s.kind.toUpperCase()}`),
    subjectId: s.subjectId,
    name: s.name,
    parentId: s.parentId,
    email: s.email,
    createdAt: s.createdAt,
  };
}

export interface EntitlementsDeps {
  plans: Plans;
  accounts: Accounts;
  subjects: Subjects;
  store: EntitlementsStore;
  /** The answers of keyed calls: every mutating RPC answers a repeated key once. */
  idempotency: IdempotencyStore;
  planFeed: LogFollower<PlanVersion>;
  accountFeed: LogFollower<Account>;
}

/**
 * A limit row's kind of work and what the kind does at its limits (absent for
 * a unit's row, which refuses them rather than dropping them: they would
 * never apply).
 */
function kindOfLimit(l: entitlementsV1.UsageLimits, field: string): { workKind?: string; draftsAtZero?: boolean; stopMessage?: string } {
  const workKind = workKindFromProto(l.workKind);
  if (!workKind && (l.draftsAtZero || l.stopMessage)) {
    throw new InvalidArgumentError(`${field}.${l.draftsAtZero ? "drafts_at_zero" : "stop_message"}`, "applies only to a kind of work's limits: set work_kind");
  }
  return workKind ? { workKind, draftsAtZero: l.draftsAtZero, stopMessage: l.stopMessage } : {};
}

export function entitlementsHandlers(deps: EntitlementsDeps, options: HandlerOptions): entitlementsV1.EntitlementsServiceServer {
  const { plans, accounts, store } = deps;

  /** PublishPlan's change: a new version of the plan. */
  async function publish(plan: entitlementsV1.Plan, by: { actor: string; onBehalfOf: string | undefined }, reason: string): Promise<entitlementsV1.PublishPlanResponse> {
    // The rules as sent; what the service sets (version, when and by whom) is the row's, whatever the request said.
    const document = E.Plan.toJSON({ ...plan, version: "0", publishedAt: undefined, publishedBy: "", publishedOnBehalfOf: "" }) as Record<string, unknown>;
    const row = await plans.publish(
      plan.planId,
      {
        allotments: plan.allotments.map((a, i) => ({ unit: commonV1.unitToJSON(a.unit), amountMicros: int64(a.amountMicros, `plan.allotments[${i}].amount_micros`) })),
        signupGrants: plan.signupGrants.map((g, i) => ({ unit: commonV1.unitToJSON(g.unit), amountMicros: int64(g.amountMicros, `plan.signup_grants[${i}].amount_micros`) })),
        limits: plan.limits.map((l, i) => ({
          unit: commonV1.unitToJSON(l.unit),
          lowCreditLimitMicros: int64(l.lowCreditLimitMicros, `plan.limits[${i}].low_credit_limit_micros`),
          negativeLimitMicros: int64(l.negativeLimitMicros, `plan.limits[${i}].negative_limit_micros`),
          ...kindOfLimit(l, `plan.limits[${i}]`),
        })),
        bannerPercents: plan.thresholds?.bannerPercents ?? [],
        emailPercents: plan.thresholds?.emailPercents ?? [],
        upgradePromptPercent: plan.thresholds?.upgradePromptPercent ?? 0,
        referralPromptPercent: plan.thresholds?.referralPromptPercent ?? 0,
        addOnPrices: plan.addOnPrices.map((price, i) => ({
          unit: commonV1.unitToJSON(price.unit),
          usdMicrosPerUnit: int64(price.usdMicrosPerUnit, `plan.add_on_prices[${i}].usd_micros_per_unit`),
        })),
        drawdownOrder: plan.drawdownOrder.map((kind) => entitlementsV1.poolKindToJSON(kind)),
        rateTableId: plan.rateTableId,
      },
      document,
      by.actor,
      reason,
      by.onBehalfOf,
    );
    return { plan: planToProto(row) };
  }

  /** One account change: UpdateAccount, and the plan (admin) and controls (support) halves it was split into. */
  async function update(
    request: Pick<entitlementsV1.UpdateAccountRequest, "accountId" | "planId" | "status" | "seats" | "spendCapMicros" | "limits" | "reason">,
    actor: string,
  ) {
    const status =
      request.status === E.AccountStatus.ACCOUNT_STATUS_ACTIVE ? "active" : request.status === E.AccountStatus.ACCOUNT_STATUS_SUSPENDED ? "suspended" : undefined;
    const account = await accounts.update({
      accountId: request.accountId,
      ...(request.planId ? { planId: request.planId } : {}),
      ...(status ? { status } : {}),
      ...(request.seats ? { seats: request.seats } : {}),
      ...(request.spendCapMicros !== undefined ? { spendCapMicros: int64(request.spendCapMicros, "spend_cap_micros") } : {}),
      limits: request.limits.map((l, i) => ({
        unit: commonV1.unitToJSON(l.unit).slice("UNIT_".length).toLowerCase(),
        lowCreditLimitMicros: int64(l.lowCreditLimitMicros, `limits[${i}].low_credit_limit_micros`),
        negativeLimitMicros: int64(l.negativeLimitMicros, `limits[${i}].negative_limit_micros`),
        ...kindOfLimit(l, `limits[${i}]`),
      })),
      actor,
      reason: request.reason,
    });
    return { account: accountToProto(account) };
  }

  /**
   * An account change under the request's key (its scope is the account), followed by WatchAccounts once made.
   * Create, Update, ChangeAccountPlan and SetAccountControls answer one shape (`{ account }`), recorded as one.
   */
  async function changeAccount<Req extends { accountId: string; idempotencyKey: string }>(
    operation: string,
    request: Req,
    requestType: { toJSON(message: Req): unknown; fromJSON(object: unknown): Req },
    change: () => Promise<{ account: entitlementsV1.Account }>,
  ): Promise<{ account: entitlementsV1.Account | undefined }> {
    const once = { operation, scope: `account:${request.accountId}`, request, requestType, responseType: E.UpdateAccountResponse };
    const { response, replayed } = await answerOnce(deps.idempotency, once, change);
    if (!replayed) deps.accountFeed.notify();
    return response;
  }

  return {
    publishPlan: unary(async (request: entitlementsV1.PublishPlanRequest, context) => {
      const plan = request.plan;
      if (!plan) throw new InvalidArgumentError("plan", "is required");
      const once = { operation: "PublishPlan", scope: `plan:${plan.planId}`, request, requestType: E.PublishPlanRequest, responseType: E.PublishPlanResponse };
      const { response, replayed } = await answerOnce(deps.idempotency, once, () => publish(plan, actorOf(context, request.actor), request.reason));
      if (!replayed) deps.planFeed.notify();
      return response;
    }, options),

    getPlan: unary(async (request: entitlementsV1.GetPlanRequest) => {
      const version = int64(request.version, "version");
      if (!request.planId && version === 0n) throw new InvalidArgumentError("plan_id", "is required (or a version, which names its plan)");
      return { plan: planToProto(await plans.get(request.planId, version)) };
    }, options),

    listPlans: unary(async (request: entitlementsV1.ListPlansRequest) => {
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListPlans", request);
      const rows = await store.listPlans({ afterVersion: BigInt(pageOffset(tokenPosition(scope, request.page?.pageToken))), limit: limit + 1, allVersions: request.allVersions });
      const { items, nextPageToken } = page(rows.map(planToProto), limit, (plan) => plan.version, encodedSize(E.Plan));
      return { plans: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    watchPlans: serverStream(async function* (request: entitlementsV1.WatchPlansRequest, context) {
      for await (const { row, head } of deps.planFeed.follow(int64(request.afterVersion, "after_version"), context.signal)) {
        yield { ...(row ? { plan: planToProto(row) } : {}), latestVersion: (head ?? 0n).toString() };
      }
    }, options),

    createAccount: unary(
      (request: entitlementsV1.CreateAccountRequest) =>
        changeAccount("CreateAccount", request, E.CreateAccountRequest, async () => {
          const account = await accounts.create({
            accountId: request.accountId,
            name: request.name,
            planId: request.planId,
            seats: request.seats,
            deploymentMode: deploymentModeFromProto(request.deploymentMode, "deployment_mode"),
            billingMode: billingModeFromProto(request.billingMode, "billing_mode"),
            cycleAnchor: request.cycleAnchor ?? new Date(new Date().toISOString().slice(0, 10)),
            adminEmails: request.adminEmails,
            spendCapMicros: int64(request.spendCapMicros, "spend_cap_micros"),
          });
          return { account: accountToProto(account) };
        }),
      options,
    ),

    getAccount: unary(async (request: entitlementsV1.GetAccountRequest) => {
      // Read before the account: every change after it has a later revision (WatchAccounts resumes after it).
      const latestRevision = await store.latestRevision();
      const account = await accounts.get(request.accountId);
      const plan = await plans.get(account.planId, BigInt(account.planVersion));
      return { account: accountToProto(account), plan: planToProto(plan), latestRevision: latestRevision.toString() };
    }, options),

    listAccounts: unary(async (request: entitlementsV1.ListAccountsRequest) => {
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListAccounts", request);
      const rows = await store.listAccounts({ after: tokenKey(tokenPosition(scope, request.page?.pageToken)), limit: limit + 1, query: request.query });
      const { items, nextPageToken } = page(rows.map(accountToProto), limit, (account) => keyToken(account.accountId), encodedSize(E.Account));
      return { accounts: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    updateAccount: unary(
      (request: entitlementsV1.UpdateAccountRequest, context) =>
        changeAccount("UpdateAccount", request, E.UpdateAccountRequest, () => update(request, actorOf(context, request.actor).actor)),
      options,
    ),
    changeAccountPlan: unary(
      (request: entitlementsV1.ChangeAccountPlanRequest, context) =>
        changeAccount("ChangeAccountPlan", request, E.ChangeAccountPlanRequest, () =>
          update({ ...request, status: E.AccountStatus.ACCOUNT_STATUS_UNSPECIFIED, limits: [] }, actorOf(context, UNAUTHENTICATED_ACTOR).actor),
        ),
      options,
    ),
    setAccountControls: unary(
      (request: entitlementsV1.SetAccountControlsRequest, context) =>
        changeAccount("SetAccountControls", request, E.SetAccountControlsRequest, () => update({ ...request, planId: "", seats: 0 }, actorOf(context, UNAUTHENTICATED_ACTOR).actor)),
      options,
    ),

    watchAccounts: serverStream(async function* (request: entitlementsV1.WatchAccountsRequest, context) {
      for await (const { row, head } of deps.accountFeed.follow(int64(request.afterRevision, "after_revision"), context.signal)) {
        yield { ...(row ? { account: accountToProto(row) } : {}), latestRevision: (head ?? 0n).toString() };
      }
    }, options),

    upsertSubject: unary(async (request: entitlementsV1.UpsertSubjectRequest) => {
      const s = request.subject;
      if (!s) throw new InvalidArgumentError("subject", "is required");
      const kind = subjectKindName(s.kind);
      const once = { operation: "UpsertSubject", scope: `account:${s.accountId}`, request, requestType: E.UpsertSubjectRequest, responseType: E.UpsertSubjectResponse };
      return (
        await answerOnce(deps.idempotency, once, async () => {
          const saved = await deps.subjects.upsert({ accountId: s.accountId, kind, subjectId: s.subjectId, name: s.name, parentId: s.parentId, email: s.email });
          return { subject: subjectToProto(saved) };
        })
      ).response;
    }, options),

    listSubjects: unary(async (request: entitlementsV1.ListSubjectsRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListSubjects", request);
      const rows = await store.listSubjects({
        accountId: request.accountId,
        ...(request.kind ? { kind: subjectKindName(request.kind) } : {}),
        after: subjectAfter(tokenPosition(scope, request.page?.pageToken)),
        limit: limit + 1,
      });
      const { items, nextPageToken } = page(rows.map(subjectToProto), limit, (s) => keyToken(s.subjectId, subjectKindName(s.kind)), encodedSize(E.Subject));
      return { subjects: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    checkEligibility: unary(async (request: entitlementsV1.CheckEligibilityRequest) => {
      const account = await accounts.get(request.accountId);
      const plan = planToProto(await plans.get(account.planId, BigInt(account.planVersion)));
      const decision = decideEligibility(
        eligibilityRulesFromProto(plan),
        {
          seats: account.seats, deploymentMode: account.deploymentMode as "cloud" | "self_hosted", billingMode: account.billingMode as "credits" | "byom_usd",
          meteredBuckets: meteredBucketsFromProto(plan),
        },
        runContextFromProto(request.context),
      );
      // The same precedence as Authorize: a suspended account first, then the plan's rules.
      const suspended = account.status === "suspended";
      const allowed = decision.allowed && !suspended;
      const message = suspended ? "the account is suspended" : decision.reason;
      const D = commonV1.DenialReason;
      return {
        allowed,
        reason: message,
        message,
        denialReason: allowed ? D.DENIAL_REASON_UNSPECIFIED : suspended ? D.DENIAL_REASON_ACCOUNT_SUSPENDED : D.DENIAL_REASON_NOT_ELIGIBLE,
        buckets: allowed ? decision.buckets.map(bucketToProto) : [],
        metered: allowed && decision.metered,
      };
    }, options),
  };
}
