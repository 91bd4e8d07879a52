import { eligibilityRulesFromProto, workKindFromProto } from "@tollgate/eligibility";
import { call, upstream } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import { unitFromProto, type Unit } from "@tollgate/rating";
import { inSpan, log } from "@tollgate/telemetry";
import type { AccountDirectory, AccountView } from "../domain/account-view.js";
import type { KindLimits } from "../domain/rules/kind-limits.js";
import { StreamFollower, VersionLag } from "./stream-follower.js";

const E = entitlementsV1;

const unitName = (unit: commonV1.Unit): Unit => unitFromProto(unit, "plan.unit");

/** Builds the ledger's view of an account from the entitlements contract. */
export function accountView(account: entitlementsV1.Account, plan: entitlementsV1.Plan): AccountView {
  const units = new Map<Unit, AccountView["units"][number]>();
  const unitEntry = (unit: Unit) => {
    let entry = units.get(unit);
    if (!entry) units.set(unit, (entry = { unit, allotmentMicros: 0n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n }));
    return entry;
  };
  for (const grant of plan.signupGrants) unitEntry(unitName(grant.unit));
  for (const allotment of plan.allotments) unitEntry(unitName(allotment.unit)).allotmentMicros += BigInt(allotment.amountMicros);
  // The plan's limits, then the account's own overrides: a unit's rows, and rows per kind of work (rules/kind-limits.ts).
  const kindLimits = new Map<string, KindLimits>();
  for (const limit of [...plan.limits, ...account.limitOverrides]) {
    const unit = unitName(limit.unit);
    const workKind = workKindFromProto(limit.workKind);
    if (workKind) {
      kindLimits.set(`${unit}:${workKind}`, {
        unit, workKind, lowCreditLimitMicros: BigInt(limit.lowCreditLimitMicros), negativeLimitMicros: BigInt(limit.negativeLimitMicros),
        draftsAtZero: limit.draftsAtZero, stopMessage: limit.stopMessage,
      });
      unitEntry(unit);
      continue;
    }
    const entry = unitEntry(unit);
    entry.negativeLimitMicros = BigInt(limit.negativeLimitMicros);
    entry.lowCreditLimitMicros = BigInt(limit.lowCreditLimitMicros);
  }
  const byom = account.billingMode === E.BillingMode.BILLING_MODE_BYOM_USD;
  if (byom) {
    // A cap of 0 closes the cycle's cap pool down to nothing (the ledger adjusts it).
    Object.assign(unitEntry("usd"), { allotmentMicros: BigInt(account.spendCapMicros), kind: "spend_cap" as const });
  }
  const t = plan.thresholds;
  const thresholds = new Set(
    [...(t?.bannerPercents ?? []), ...(t?.emailPercents ?? []), t?.upgradePromptPercent ?? 0, t?.referralPromptPercent ?? 0].filter((p) => p > 0),
  );
  return {
    accountId: account.accountId,
    status: account.status === E.AccountStatus.ACCOUNT_STATUS_SUSPENDED ? "suspended" : "active",
    planId: plan.planId,
    planVersion: BigInt(plan.version),
    cycleAnchor: account.cycleAnchor ?? account.createdAt ?? new Date(0),
    rateTableId: plan.rateTableId || "default",
    drawdownOrder: plan.drawdownOrder
      .filter((kind) => kind !== E.PoolKind.POOL_KIND_MONTHLY)
      .map((kind) => E.poolKindToJSON(kind).slice("POOL_KIND_".length).toLowerCase()),
    thresholdPercents: [...thresholds].sort((a, b) => a - b),
    units: [...units.values()],
    ...(kindLimits.size > 0 ? { kindLimits: [...kindLimits.values()] } : {}),
    billingMode: byom ? "byom_usd" : "credits",
    seats: account.seats,
    deploymentMode: account.deploymentMode === E.DeploymentMode.DEPLOYMENT_MODE_SELF_HOSTED ? "self_hosted" : "cloud",
    eligibility: eligibilityRulesFromProto(plan),
    signupGrants: plan.signupGrants.map((grant) => ({
      unit: unitName(grant.unit),
      amountMicros: BigInt(grant.amountMicros),
      expiresAt: new Date((account.createdAt ?? new Date()).getTime() + (grant.expiresAfterDays || 30) * 86_400_000),
    })),
    addOnPrices: Object.fromEntries(plan.addOnPrices.map((price) => [unitName(price.unit), BigInt(price.usdMicrosPerUnit)])),
  };
}

/**
 * Accounts and plans in memory. An account is fetched on first use (one
 * GetAccount call); WatchAccounts and WatchPlans streams then keep it fresh.
 */
export class AccountCache implements AccountDirectory {
  private readonly accounts = new Map<string, entitlementsV1.Account>();
  private readonly plans = new Map<string, entitlementsV1.Plan>();
  /** The view last built for each account, reused while its account and plan messages are the same objects. */
  private readonly views = new Map<string, { account: entitlementsV1.Account; plan: entitlementsV1.Plan; view: AccountView }>();
  /** Fills in flight, so concurrent first uses of one account (a burst right after a restart) make one GetAccount call. */
  private readonly filling = new Map<string, Promise<{ account: entitlementsV1.Account; plan: entitlementsV1.Plan }>>();
  /** Told of every change the account feed brings for an account in the cache (e.g. a Meter stream watching for suspension). */
  private readonly watchers = new Set<(accountId: string) => void>();
  private lastRevision = 0n;
  private lastPlanVersion = 0n;
  private readonly accountFeed: StreamFollower<entitlementsV1.WatchAccountsResponse>;
  private readonly planFeed: StreamFollower<entitlementsV1.WatchPlansResponse>;
  /** The feeds' lag: revisions and plan versions published but not applied here. */
  readonly lags = [new VersionLag("accounts", () => this.lastRevision), new VersionLag("plans", () => this.lastPlanVersion)] as const;

  constructor(private readonly client: entitlementsV1.EntitlementsServiceClient) {
    const [accountLag, planLag] = this.lags;
    this.accountFeed = new StreamFollower(
      () => this.client.watchAccounts({ afterRevision: this.lastRevision.toString() }),
      (message) => {
        if (message.account) this.putAccount(message.account, true);
        accountLag.heardOf(message.latestRevision);
      },
      (line) => log().warn(`account feed: ${line}`),
    );
    this.planFeed = new StreamFollower(
      () => this.client.watchPlans({ afterVersion: this.lastPlanVersion.toString() }),
      (message) => {
        if (message.plan) this.putPlan(message.plan);
        planLag.heardOf(message.latestVersion);
      },
      (line) => log().warn(`plan feed: ${line}`),
    );
  }

  private putAccount(account: entitlementsV1.Account, fromFeed: boolean): void {
    const revision = BigInt(account.revision);
    if (revision > this.lastRevision) this.lastRevision = revision;
    // The feed carries every account; keep only those this ledger has used.
    if (fromFeed && !this.accounts.has(account.accountId)) return;
    this.accounts.set(account.accountId, account);
    if (fromFeed) for (const watcher of this.watchers) watcher(account.accountId);
  }

  /** Calls `watcher` with the id of each cached account the feed changes (get() then reads the new view); returns the unsubscribe. */
  watch(watcher: (accountId: string) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private putPlan(plan: entitlementsV1.Plan): void {
    this.plans.set(plan.version, plan);
    const version = BigInt(plan.version);
    if (version > this.lastPlanVersion) this.lastPlanVersion = version;
  }

  async get(accountId: string): Promise<AccountView> {
    let account = this.accounts.get(accountId);
    let plan = account && this.plans.get(account.planVersion);
    if (!account || !plan) {
      ({ account, plan } = await this.fill(accountId));
    }
    const built = this.views.get(accountId);
    if (built && built.account === account && built.plan === plan) return built.view;
    const view = accountView(account, plan);
    this.views.set(accountId, { account, plan, view });
    return view;
  }

  private fill(accountId: string): Promise<{ account: entitlementsV1.Account; plan: entitlementsV1.Plan }> {
    let filling = this.filling.get(accountId);
    if (!filling) {
      filling = this.fetch(accountId).finally(() => this.filling.delete(accountId));
      this.filling.set(accountId, filling);
    }
    return filling;
  }

  private fetch(accountId: string): Promise<{ account: entitlementsV1.Account; plan: entitlementsV1.Plan }> {
    return inSpan("tollgate.ledger", "ledger.account_cache.fill", async (span) => {
      span.setAttribute("tollgate.account_id", accountId);
      const response = await upstream(call(this.client, this.client.getAccount, { accountId }));
      this.putAccount(response.account!, false);
      this.putPlan(response.plan!);
      this.accountFeed.start();
      this.planFeed.start();
      return { account: response.account!, plan: response.plan! };
    });
  }

  stop(): void {
    this.accountFeed.stop();
    this.planFeed.stop();
  }
}
