import { eligibilityRulesFromProto, meteredBucketsFromProto, workKindFromProto } from "@tollgate/eligibility";
import { call, upstream } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import { unitFromProto, type Unit } from "@tollgate/rating";
import { inSpan, log } from "@tollgate/telemetry";
import type { AccountDirectory, AccountView } from "../domain/account-view.js";
import type { KindLimits } from "../domain/rules/kind-limits.js";
import { InFlight } from "./in-flight.js";
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
    meteredBuckets: meteredBucketsFromProto(plan),
    signupGrants: plan.signupGrants.map((grant) => ({
      unit: unitName(grant.unit),
      amountMicros: BigInt(grant.amountMicros),
      expiresAt: new Date((account.createdAt ?? new Date()).getTime() + (grant.expiresAfterDays || 30) * 86_400_000),
    })),
    addOnPrices: Object.fromEntries(plan.addOnPrices.map((price) => [unitName(price.unit), BigInt(price.usdMicrosPerUnit)])),
  };
}

/** Accounts a ledger keeps in memory unless told otherwise (`ACCOUNT_CACHE_ACCOUNTS`): about 1.3 KB of heap each. */
export const DEFAULT_ACCOUNT_CACHE_ACCOUNTS = 50_000;

/** A cached account, and the view last built from it (null until the next use builds it). */
interface Cached {
  account: entitlementsV1.Account;
  view: AccountView | null;
}

const newer = (a: entitlementsV1.Account, than: entitlementsV1.Account) => BigInt(a.revision) > BigInt(than.revision);

/**
 * Accounts and plans in memory. An account is fetched on first use (one
 * GetAccount call); WatchAccounts and WatchPlans streams then keep it fresh.
 * At most `maxAccounts` accounts are kept: the least recently used is dropped
 * first, and fetched again on its next use.
 */
export class AccountCache implements AccountDirectory {
  /** Least recently used first: a use moves an account to the end. */
  private readonly accounts = new Map<string, Cached>();
  /** Plan versions are never changed once published: the first copy of each is kept, and every view of it shares it. */
  private readonly plans = new Map<string, entitlementsV1.Plan>();
  /** Fills in flight, so concurrent first uses of one account (a burst right after a restart) make one GetAccount call. */
  private readonly filling = new InFlight<string, Cached>();
  /** Told of every change the account feed brings (e.g. a Meter stream watching its account for suspension). */
  private readonly watchers = new Set<(accountId: string) => void>();
  /**
   * Where the account feed first started: after the newest revision committed
   * when the first fill read its account. A fill that read before it is read
   * again, since the feed does not bring the changes between.
   */
  private feedStart: bigint | null = null;
  /** Where the account feed resumes: the last revision it brought (only it moves this). */
  private feedRevision = 0n;
  private lastPlanVersion = 0n;
  private fills = 0;
  private evictions = 0;
  private readonly accountFeed: StreamFollower<entitlementsV1.WatchAccountsResponse>;
  private readonly planFeed: StreamFollower<entitlementsV1.WatchPlansResponse>;
  /** The feeds' lag: revisions and plan versions published but not applied here. */
  readonly lags = [new VersionLag("accounts", () => this.feedRevision), new VersionLag("plans", () => this.lastPlanVersion)] as const;

  constructor(
    private readonly client: entitlementsV1.EntitlementsServiceClient,
    private readonly maxAccounts = DEFAULT_ACCOUNT_CACHE_ACCOUNTS,
  ) {
    const [accountLag, planLag] = this.lags;
    this.accountFeed = new StreamFollower(
      () => this.client.watchAccounts({ afterRevision: this.feedRevision.toString() }),
      (message) => {
        if (message.account) this.changed(message.account);
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

  /**
   * A change the account feed brings. It replaces the account in memory unless
   * a fill already brought a later revision; an account not in memory is kept
   * only while its fill is out (the fill keeps the later of the two). Every
   * watcher hears of it either way.
   */
  private changed(account: entitlementsV1.Account): void {
    this.feedRevision = BigInt(account.revision);
    const cached = this.accounts.get(account.accountId);
    if (cached) {
      if (!newer(cached.account, account)) Object.assign(cached, { account, view: null });
    } else if (this.filling.has(account.accountId)) {
      this.accounts.set(account.accountId, { account, view: null });
    }
    for (const watcher of this.watchers) watcher(account.accountId);
  }

  /** Calls `watcher` with the id of each account the feed changes (get() then reads the new view); returns the unsubscribe. */
  watch(watcher: (accountId: string) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private putPlan(plan: entitlementsV1.Plan): void {
    const version = BigInt(plan.version);
    if (version > this.lastPlanVersion) this.lastPlanVersion = version;
    if (!this.plans.has(plan.version)) this.plans.set(plan.version, plan);
  }

  async get(accountId: string): Promise<AccountView> {
    let cached = this.accounts.get(accountId);
    let plan = cached && this.plans.get(cached.account.planVersion);
    if (cached && plan) {
      this.keep(accountId, cached);
    } else {
      cached = await this.filling.run(accountId, () => this.fetch(accountId));
      plan = this.plans.get(cached.account.planVersion)!;
    }
    return (cached.view ??= accountView(cached.account, plan));
  }

  /** Keeps an account as the most recently used (last), dropping the least recently used past the bound. */
  private keep(accountId: string, cached: Cached): void {
    this.accounts.delete(accountId);
    this.accounts.set(accountId, cached);
    for (const oldest of this.accounts.keys()) {
      if (this.accounts.size <= this.maxAccounts) break;
      this.accounts.delete(oldest);
      this.evictions++;
    }
  }

  /** Accounts in memory, GetAccount calls made to fill it, and accounts dropped to stay within its bound. */
  stats(): { accounts: number; fills: number; evictions: number } {
    return { accounts: this.accounts.size, fills: this.fills, evictions: this.evictions };
  }

  private fetch(accountId: string): Promise<Cached> {
    return inSpan("tollgate.ledger", "ledger.account_cache.fill", async (span) => {
      span.setAttribute("tollgate.account_id", accountId);
      const read = async () => {
        this.fills++;
        const answer = await upstream(call(this.client, this.client.getAccount, { accountId }));
        this.putPlan(answer.plan!);
        return answer;
      };
      let response = await read();
      // A server that does not say what was committed when it read: the account's own revision, as before it did.
      const readAt = (answer: entitlementsV1.GetAccountResponse) => BigInt(answer.latestRevision) || BigInt(answer.account!.revision);
      if (this.feedStart === null) {
        this.feedStart = this.feedRevision = readAt(response);
      } else if (readAt(response) < this.feedStart && response.latestRevision !== "0") {
        response = await read();
      }
      // What the feed brought meanwhile is kept if it is later; if its plan version is not known yet, the account is
      // read again, which brings that plan (the feed has passed the change: dropping it would lose it).
      let known = this.accounts.get(accountId);
      if (known && newer(known.account, response.account!) && !this.plans.has(known.account.planVersion)) {
        response = await read();
        known = this.accounts.get(accountId);
      }
      const account = response.account!;
      const cached = known && newer(known.account, account) && this.plans.has(known.account.planVersion) ? known : { account, view: null };
      this.keep(accountId, cached);
      this.accountFeed.start();
      this.planFeed.start();
      return cached;
    });
  }

  stop(): void {
    this.accountFeed.stop();
    this.planFeed.stop();
  }
}
