/**
 * The one table of who may call what. Every RPC of the four services has an
 * entry; an RPC missing here is refused (default deny). `roles` lists the
 * roles any one of which admits the call; `scope` says how a credential
 * limited to some accounts is checked:
 * - `account`: the request names one account (`account` reads it), which must be one of the credential's;
 * - `catalogue`: reads of plans, rate tables and prices, not any account's data: open to limited credentials;
 * - `all`: spans accounts or names an object by its own id: refused to limited credentials. Publishing a
 *   plan or rate table is `all`: it changes what every account on it pays.
 */
export const ROLES = ["meter", "support", "admin", "service"] as const;
export type Role = (typeof ROLES)[number];

export interface Access {
  roles: readonly Role[];
  scope: "account" | "catalogue" | "all";
  /** The account a request names (default: `account_id`). */
  account?: (request: Record<string, unknown>) => unknown;
  /** An admin change: each call is written to the audit log, with the account its answer names when the request names none. */
  audited?: { account?: (response: Record<string, unknown>) => unknown };
}

const READ: readonly Role[] = ROLES;
/** Who reads an account's alert preferences, and a webhook delivery's URL in full: it may carry its receiver's token (Slack's do). */
export const PREFERENCE_READERS: readonly Role[] = ["support", "admin", "service"];
const meter: Access = { roles: ["meter"], scope: "account" };
const support: Access = { roles: ["support"], scope: "account" };
const admin: Access = { roles: ["admin"], scope: "account" };
const publish: Access = { roles: ["admin"], scope: "all" };
const read: Access = { roles: READ, scope: "account" };
const readCatalogue: Access = { roles: READ, scope: "catalogue" };
const readAll: Access = { roles: READ, scope: "all" };
const watch: Access = { roles: ["service"], scope: "all" };
const audited = (access: Access, account?: (response: Record<string, unknown>) => unknown): Access => ({ ...access, audited: account ? { account } : {} });
const nested = (field: string): ((request: Record<string, unknown>) => unknown) => (request) =>
  (request[field] as { accountId?: unknown } | undefined)?.accountId;

const E = "/tollgate.entitlements.v1.EntitlementsService/";
const P = "/tollgate.pricing.v1.PricingService/";
const L = "/tollgate.ledger.v1.LedgerService/";
const N = "/tollgate.notifications.v1.NotificationsService/";

export const ACCESS: Readonly<Record<string, Access>> = {
  [`${E}PublishPlan`]: audited(publish),
  [`${E}GetPlan`]: readCatalogue,
  [`${E}ListPlans`]: readCatalogue,
  [`${E}WatchPlans`]: watch,
  [`${E}CreateAccount`]: audited(admin),
  [`${E}GetAccount`]: read,
  [`${E}ListAccounts`]: readAll,
  [`${E}UpdateAccount`]: audited(admin),
  [`${E}ChangeAccountPlan`]: audited(admin),
  [`${E}SetAccountControls`]: audited(support),
  [`${E}WatchAccounts`]: watch,
  [`${E}CheckEligibility`]: read,
  [`${E}UpsertSubject`]: { roles: ["meter"], scope: "account", account: nested("subject") },
  [`${E}ListSubjects`]: read,

  [`${P}PublishRateTable`]: audited(publish),
  [`${P}GetRateTable`]: readCatalogue,
  [`${P}ListRateTableVersions`]: readCatalogue,
  [`${P}DiffRateTables`]: readCatalogue,
  [`${P}Quote`]: readCatalogue,
  [`${P}WatchRateTables`]: watch,

  [`${L}Authorize`]: meter,
  [`${L}Charge`]: meter,
  [`${L}Release`]: meter,
  [`${L}ExtendHold`]: meter,
  [`${L}Grant`]: audited(support),
  [`${L}Adjust`]: audited(support),
  [`${L}ReverseCharge`]: audited(support),
  [`${L}SetBudget`]: audited(support),
  [`${L}DeleteBudget`]: audited(support),
  [`${L}GetBalance`]: read,
  [`${L}GetHold`]: readAll,
  [`${L}ListHolds`]: read,
  [`${L}ListMeteredWork`]: read,
  [`${L}ListEntries`]: read,
  // Across accounts: the support desk's search box (the gateway), never a credential limited to some accounts.
  [`${L}Search`]: { roles: ["support", "admin", "service"], scope: "all" },
  // Where the event stream stands, for a consumer about to stream from now.
  [`${L}GetLatestEventSequence`]: watch,
  [`${L}GetUsage`]: read,
  [`${L}GetTopUsage`]: read,
  [`${L}StartRun`]: meter,
  // Run and deployment ids are unique within an account: a limited credential names the account, and the ledger looks the id up there.
  [`${L}PauseRun`]: meter,
  [`${L}ResumeRun`]: meter,
  [`${L}EndRun`]: meter,
  [`${L}Deploy`]: meter,
  [`${L}Scale`]: meter,
  [`${L}Undeploy`]: meter,
  [`${L}RollOverCycle`]: audited(admin),
  [`${L}StreamEvents`]: watch,
  // A receipt names its charge or hold by id (across accounts, like GetHold): the support desk, admins and services.
  [`${L}GetReceipt`]: { roles: ["support", "admin", "service"], scope: "all" },
  [`${L}GetUsageBreakdown`]: read,
  // The product reports its tools (owner and status) as it reports their usage.
  [`${L}SetTool`]: meter,
  [`${L}ListTools`]: read,
  // A stream: roles are checked when it opens, the account (named by its first message, `open`) when that message arrives.
  [`${L}Meter`]: { roles: ["meter", "service"], scope: "account", account: (request) => (request.kind as { open?: { accountId?: unknown } } | undefined)?.open?.accountId },
  // A consumer of the stream reports how far it consumed (outbox retention waits for it).
  [`${L}AcknowledgeEvents`]: watch,

  [`${N}ListBanners`]: read,
  // By banner id; a credential limited to some accounts names the banner's account (`account_id`), checked by the handler.
  [`${N}DismissBanner`]: audited(meter, nested("banner")),
  [`${N}ListNotifications`]: read,
  [`${N}ResendNotification`]: audited({ roles: ["support"], scope: "all" }, nested("notification")),
  [`${N}GetPreferences`]: { roles: PREFERENCE_READERS, scope: "account" },
  [`${N}SetPreferences`]: audited({ roles: ["support"], scope: "account", account: nested("preferences") }),
};

/** The roles that may call `path`, or undefined when the RPC is not in the table. */
export function accessOf(path: string): Access | undefined {
  return Object.hasOwn(ACCESS, path) ? ACCESS[path] : undefined;
}
