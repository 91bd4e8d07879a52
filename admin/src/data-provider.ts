import type { DataProvider, GetListParams, GetListResult, GetManyReferenceParams, RaRecord } from "react-admin";
import type {
  Account,
  AccountActionAnswer,
  AlertPreferences,
  Banner,
  Hold,
  MemberUsage,
  NotificationRow,
  Plan,
  Receipt,
  RateChange,
  RateTable,
  SearchHit,
  SetAccountLimitsBody,
  SetSpendCapBody,
  SetBudgetBody,
  Budget,
  TopDimension,
  ToolsPage,
  TopPage,
  UsagePoint,
  UsageWindow,
} from "./api-types";
import { fetchHttpClient, HttpError, storedToken, toHttpError, type HttpClient } from "./http";

/** The plugin's resource names: prefixed so they never clash with a host's own. */
export const RESOURCES = {
  accounts: "tollgate-accounts",
  entries: "tollgate-entries",
  plans: "tollgate-plans",
  rateTables: "tollgate-rate-tables",
  notifications: "tollgate-notifications",
  audit: "tollgate-audit",
  holds: "tollgate-holds",
  work: "tollgate-work",
  /** Search across accounts (a page, not a list the API pages). */
  search: "tollgate-search",
  /** Cost receipts of charges and holds (a page per receipt, no list). */
  receipts: "tollgate-receipts",
} as const;

export type TollgateResource = (typeof RESOURCES)[keyof typeof RESOURCES];

export const TOLLGATE_RESOURCE_NAMES: readonly string[] = Object.values(RESOURCES);

/** True for a resource this plugin serves: what a host's `combineDataProviders` matcher asks. */
export const isTollgateResource = (resource: string) => TOLLGATE_RESOURCE_NAMES.includes(resource);

export interface TollgateDataProviderOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8080` (the `/api/...` paths are added). */
  apiUrl: string;
  /** Replaces `fetch` (tests, a host's own HTTP stack). Gets the full URL and the request with headers set. */
  httpClient?: HttpClient;
  /** Where the bearer token comes from; defaults to `localStorage['tollgate.token']`. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
}

/**
 * A support action's Idempotency-Key. ActionDialog sends one key for every
 * try of a submission whose outcome it does not know (no answer, or a 5xx),
 * so a retry after a lost answer replays the first instead of granting twice.
 */
export type Keyed = { idempotencyKey?: string };

/** Custom calls on top of react-admin's methods. The first argument is always a resource name so they route through `combineDataProviders`. */
export interface TollgateDataProvider extends DataProvider {
  getAccountUsage(resource: string, params: { accountId: string; window: UsageWindow; splitBy: string; signal?: AbortSignal }): Promise<{ points: UsagePoint[] }>;
  getAccountTop(resource: string, params: { accountId: string; dimension: TopDimension; pageSize?: number; pageToken?: string; signal?: AbortSignal }): Promise<TopPage>;
  /** The version of a rate table in effect now. */
  getRateTableInEffect(resource: string, params: { tableId: string; signal?: AbortSignal }): Promise<RateTable>;
  getRateTableDiff(resource: string, params: { tableId: string; from: string | number; to: string | number; signal?: AbortSignal }): Promise<{ changes: RateChange[] }>;
  /** Publishes a new version of a rate table (admin; reason audited): its rates in the proto's JSON form, effective now or from `effective_from`. */
  publishRateTable(resource: string, params: { table_id: string; rates: unknown[]; effective_from?: string; reason: string } & Keyed): Promise<{ table: RateTable; audit_id: string }>;
  /** The entries a list filter shows, as CSV (`/api/entries.csv`): the file and its name. */
  exportEntries(resource: string, params: { filter: Record<string, unknown> }): Promise<{ blob: Blob; filename: string }>;
  /** Publishes a new version of a plan (admin; reason audited): its document in the proto's JSON form. */
  publishPlan(resource: string, params: { plan: Record<string, unknown>; reason: string } & Keyed): Promise<{ plan: Plan; audit_id: string }>;
  grantCredits(resource: string, params: { accountId: string; pool_kind: string; unit: string; amount: string; expires_at?: string; reason: string } & Keyed): Promise<{ pool_id: string; entry_id: string; balance_micros: string; audit_id: string }>;
  adjustBalance(resource: string, params: { accountId: string; pool_id: string; amount: string; reason: string } & Keyed): Promise<{ entry_id: string; balance_micros: string; reload_stopped: boolean; audit_id: string }>;
  /** Returns a charge to the pools it drew from (operator; once per charge). */
  reverseCharge(resource: string, params: { accountId: string; entry_id: string; reason: string } & Keyed): Promise<{ entry_id: string; returned_micros: string; balance_micros: string; audit_id: string }>;
  setAccountStatus(resource: string, params: { accountId: string; status: "active" | "suspended"; reason: string } & Keyed): Promise<{ account: Account; audit_id: string }>;
  changePlan(resource: string, params: { accountId: string; plan_id: string; reason: string } & Keyed): Promise<{ account: Account; audit_id: string }>;
  /** Overrides the plan's low-credit and negative limits of one unit for this account (operator). */
  setAccountLimits(resource: string, params: { accountId: string } & SetAccountLimitsBody & Keyed): Promise<AccountActionAnswer>;
  /** Sets the monthly USD spend cap of a `byom_usd` account; "0" removes it (operator). */
  setSpendCap(resource: string, params: { accountId: string } & SetSpendCapBody & Keyed): Promise<AccountActionAnswer>;
  /** Sets (or changes) a budget on one attribution scope (operator; reason audited). */
  setBudget(resource: string, params: { accountId: string } & SetBudgetBody & Keyed): Promise<{ budget: Budget; audit_id: string }>;
  /** Removes a budget (operator; reason audited); answers it as it counted then. */
  deleteBudget(resource: string, params: { accountId: string; budgetId: string; reason: string } & Keyed): Promise<{ removed: Budget; audit_id: string }>;
  resendNotification(resource: string, params: { id: string; reason: string } & Keyed): Promise<{ notification: NotificationRow; audit_id: string }>;
  dismissBanner(resource: string, params: { id: string; reason: string } & Keyed): Promise<{ banner: Banner; audit_id: string }>;
  /** Holds, entries, runs and deployments across every account, by an id a support ticket carries. */
  search(resource: string, params: { q: string; signal?: AbortSignal }): Promise<{ data: SearchHit[] }>;
  /** The cycle's usage per member and for the team, in the ai, compute and platform buckets. */
  getMemberUsage(resource: string, params: { accountId: string; unit: string; signal?: AbortSignal }): Promise<MemberUsage>;
  getPreferences(resource: string, params: { accountId: string; signal?: AbortSignal }): Promise<AlertPreferences>;
  setEmailRecipients(resource: string, params: { accountId: string; email_recipients: string[]; reason: string } & Keyed): Promise<{ preferences: AlertPreferences; audit_id: string }>;
  /** Tools deployed at least once, with owner, runs, last activity and status. */
  getAccountTools(resource: string, params: { accountId: string; pageSize?: number; pageToken?: string; signal?: AbortSignal }): Promise<ToolsPage>;
}

type Query = Record<string, string | number | boolean | undefined | null>;

interface ListRoute {
  path: string;
  /** Query parameters every call carries (before the filter's). */
  defaults?: Query;
  /** Filters the API refuses to list without: no call is made, an empty page is returned. */
  requires?: string[];
  /** The API row to the console's record (e.g. a unique id). */
  toRecord?: (row: Record<string, unknown>) => RaRecord;
}

/** A plan or rate-table version is only unique within its plan / table: the console's id joins both. */
export const versionId = (owner: unknown, version: unknown) => `${String(owner)}@${String(version)}`;
export function parseVersionId(id: unknown): { owner: string; version: string } {
  const text = String(id);
  const at = text.lastIndexOf("@");
  return at < 0 ? { owner: "", version: text } : { owner: text.slice(0, at), version: text.slice(at + 1) };
}

const LIST_ROUTES: Partial<Record<string, ListRoute>> = {
  [RESOURCES.accounts]: { path: "/api/accounts" },
  [RESOURCES.entries]: { path: "/api/entries", requires: ["account_id"] },
  [RESOURCES.plans]: {
    path: "/api/plans",
    defaults: { all_versions: "true" },
    toRecord: (row) => ({ ...row, api_id: row.id, id: versionId(row.plan_id, row.version) }),
  },
  [RESOURCES.rateTables]: {
    path: "/api/rate-tables",
  },
  [RESOURCES.notifications]: { path: "/api/notifications" },
  [RESOURCES.audit]: { path: "/api/audit" },
  [RESOURCES.holds]: { path: "/api/holds" },
  [RESOURCES.work]: { path: "/api/work" },
};

const MAX_PAGE_SIZE = 500;
const MAX_REMEMBERED_LISTS = 200;

/**
 * Cursor bookkeeping: the API pages with opaque tokens, react-admin with page
 * numbers. For each list (resource + filter + page size) remember the token
 * that opens each page number, learnt from the previous page's
 * `next_page_token`. Page 1 opens with no token.
 */
export class PageTokens {
  private readonly lists = new Map<string, Map<number, string>>();

  static key(resource: string, query: Query, pageSize: number): string {
    const sorted = Object.keys(query)
      .sort()
      .map((k) => [k, query[k]]);
    return JSON.stringify([resource, sorted, pageSize]);
  }

  get(key: string, page: number): string | undefined {
    if (page <= 1) return "";
    return this.lists.get(key)?.get(page);
  }

  /** The highest page number below `page` whose token is known (1 at worst). */
  closestBelow(key: string, page: number): number {
    let best = 1;
    for (const known of this.lists.get(key)?.keys() ?? []) if (known < page && known > best) best = known;
    return best;
  }

  set(key: string, page: number, token: string): void {
    let tokens = this.lists.get(key);
    if (!tokens) {
      if (this.lists.size >= MAX_REMEMBERED_LISTS) this.lists.delete(this.lists.keys().next().value as string);
      tokens = new Map();
      this.lists.set(key, tokens);
    }
    if (token) tokens.set(page, token);
    else tokens.delete(page);
  }

  /** Forgets one list's tokens (the gateway no longer takes them). */
  forget(key: string): void {
    this.lists.delete(key);
  }

  clear(): void {
    this.lists.clear();
  }
}

const notSupported = (resource: string, method: string) =>
  Promise.reject(new HttpError(`${resource} is read-only here (${method}); use the console's actions`, 405, { message: "not supported" }));

/**
 * A react-admin DataProvider for the Tollgate console gateway. Resource names
 * are the prefixed `tollgate-*` ones; custom methods cover the usage charts,
 * top-N tables, rate-table diffs and the audited support actions.
 */
export function tollgateDataProvider(options: TollgateDataProviderOptions): TollgateDataProvider {
  const base = options.apiUrl.replace(/\/+$/, "");
  const http = options.httpClient ?? fetchHttpClient;
  const getToken = options.getToken ?? storedToken;
  const tokens = new PageTokens();

  const url = (path: string, query: Query = {}) => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
    const qs = search.toString();
    return `${base}${path}${qs ? `?${qs}` : ""}`;
  };

  async function request<T>(method: string, path: string, query?: Query, body?: unknown, signal?: AbortSignal, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = await getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await http(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (response.status < 200 || response.status >= 300) throw toHttpError(response.status, response.json, response.headers);
    return response.json as T;
  }

  const get = <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, query, undefined, signal);
  /** An action: its body, and its key (Keyed) as the Idempotency-Key header. */
  const post = <T>(path: string, { idempotencyKey, ...body }: Record<string, unknown> & Keyed) => request<T>("POST", path, undefined, body, undefined, idempotencyKey);
  const seg = (id: unknown) => encodeURIComponent(String(id));

  function listRoute(resource: string): ListRoute {
    const route = LIST_ROUTES[resource];
    if (!route) throw new HttpError(`Unknown Tollgate resource ${resource}`, 404, { message: "unknown resource" });
    return route;
  }

  function listQuery(route: ListRoute, filter: Record<string, unknown> = {}): Query {
    const query: Query = { ...route.defaults };
    for (const [k, v] of Object.entries(filter)) {
      if (v === undefined || v === null || v === "") continue;
      if (k === "attr" && typeof v === "object" && !Array.isArray(v)) {
        // Attribution filters (react-admin's `attr.model` source is { attr: { model } }): the API's attr.<dimension>.
        for (const [dimension, value] of Object.entries(v as Record<string, unknown>)) if (typeof value === "string" && value.trim()) query[`attr.${dimension}`] = value.trim();
        continue;
      }
      query[k] = typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean);
    }
    return query;
  }

  async function fetchPage(route: ListRoute, query: Query, pageSize: number, pageToken: string, signal?: AbortSignal) {
    let accountNotFound = false;
    const answer = await get<{ data?: Record<string, unknown>[]; next_page_token?: string }>(
      route.path,
      { ...query, page_size: pageSize, page_token: pageToken },
      signal,
    ).catch((error: unknown) => {
      // Filtered by an account that does not exist (the API's 404): the list has nothing to show, and says why (`accountNotFound`).
      if (!(error instanceof HttpError && error.status === 404 && error.body.reason === "ACCOUNT_NOT_FOUND")) throw error;
      accountNotFound = true;
      return undefined;
    });
    const rows = (answer?.data ?? []).map((row) => (route.toRecord ? route.toRecord(row) : (row as RaRecord)));
    return { rows, next: answer?.next_page_token ?? "", accountNotFound };
  }

  async function getList(resource: string, params: GetListParams): Promise<GetListResult> {
    const route = listRoute(resource);
    const page = Math.max(1, params.pagination?.page ?? 1);
    const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, params.pagination?.perPage ?? 50));
    const query = listQuery(route, params.filter);
    if (route.requires?.some((k) => query[k] === undefined)) {
      // Zero rows, said as a total of zero: the list shows its empty state, not a pager.
      return { data: [], total: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false } };
    }
    const key = PageTokens.key(resource, query, pageSize);
    try {
      return await listPage(route, query, key, page, pageSize, params.signal);
    } catch (error) {
      // A remembered token the gateway no longer takes (one a release before handed out, during an upgrade): the list's
      // tokens are forgotten and the page is reached again from the first, once.
      if (!(page > 1 && error instanceof HttpError && error.status === 400 && error.body?.field === "page_token")) throw error;
      tokens.forget(key);
      return listPage(route, query, key, page, pageSize, params.signal);
    }
  }

  async function listPage(route: ListRoute, query: Query, key: string, page: number, pageSize: number, signal?: AbortSignal): Promise<GetListResult> {
    let token = tokens.get(key, page);
    if (token === undefined) {
      // A page whose token we never learnt (a deep link, a changed page size):
      // walk forward from the closest known page, remembering each token.
      let at = tokens.closestBelow(key, page);
      token = tokens.get(key, at) ?? "";
      while (at < page) {
        const { rows, next } = await fetchPage(route, query, pageSize, token, signal);
        tokens.set(key, at + 1, next);
        if (!next) {
          // The list ends before this page: an empty page, with the total so react-admin can go back.
          return { data: [], total: (at - 1) * pageSize + rows.length, pageInfo: { hasNextPage: false, hasPreviousPage: true } };
        }
        token = next;
        at += 1;
      }
    }
    const { rows, next, accountNotFound } = await fetchPage(route, query, pageSize, token, signal);
    tokens.set(key, page + 1, next);
    // On the last page the total is known (earlier pages were full); before it, it is not.
    const total = next ? undefined : (page - 1) * pageSize + rows.length;
    const pageInfo = { hasNextPage: next !== "", hasPreviousPage: page > 1 };
    // The list's empty state names the account that is not there (EmptyState reads the list's meta).
    return { data: rows, total, pageInfo, ...(accountNotFound ? { meta: { account_not_found: String(query.account_id ?? "") } } : {}) };
  }

  /** Every row of a list, page after page (bounded): for look-ups the API has no single-record call for. */
  async function findInList(resource: string, filter: Record<string, unknown>, match: (r: RaRecord) => boolean, signal?: AbortSignal) {
    const route = listRoute(resource);
    const query = listQuery(route, filter);
    let token = "";
    for (let pages = 0; pages < 50; pages += 1) {
      const { rows, next } = await fetchPage(route, query, MAX_PAGE_SIZE, token, signal);
      const found = rows.find(match);
      if (found) return found;
      if (!next) break;
      token = next;
    }
    throw new HttpError(`Not found in ${resource}`, 404, { code: "NOT_FOUND", message: "Not found" });
  }

  async function getOne(resource: string, params: { id: unknown; signal?: AbortSignal }): Promise<{ data: RaRecord }> {
    const { id, signal } = params;
    switch (resource) {
      case RESOURCES.accounts:
        return { data: await get<Account>(`/api/accounts/${seg(id)}`, undefined, signal) };
      case RESOURCES.holds:
        return { data: await get<Hold>(`/api/holds/${seg(id)}`, undefined, signal) };
      case RESOURCES.receipts:
        return { data: await get<Receipt>(`/api/receipts/${seg(id)}`, undefined, signal) };
      case RESOURCES.rateTables: {
        const { owner, version } = parseVersionId(id);
        return { data: await get<RateTable>(`/api/rate-tables/${seg(owner)}/${seg(version)}`, undefined, signal) };
      }
      case RESOURCES.plans: {
        const wanted = String(id);
        return { data: await findInList(resource, {}, (r) => r.id === wanted, signal) };
      }
      default: {
        const wanted = String(id);
        return { data: await findInList(resource, {}, (r) => String(r.id) === wanted, signal) };
      }
    }
  }

  const provider: TollgateDataProvider = {
    getList: (resource, params) => getList(resource, params),
    getOne: (resource, params) => getOne(resource, params) as never,
    getMany: async (resource, params) => ({
      data: (await Promise.all(params.ids.map((id) => getOne(resource, { id, signal: params.signal }).then((r) => r.data)))) as never[],
    }),
    getManyReference: (resource, params: GetManyReferenceParams) =>
      getList(resource, { ...params, filter: { ...params.filter, [params.target]: params.id } }),
    create: (resource) => notSupported(resource, "create"),
    update: (resource) => notSupported(resource, "update"),
    updateMany: (resource) => notSupported(resource, "updateMany"),
    delete: (resource) => notSupported(resource, "delete"),
    deleteMany: (resource) => notSupported(resource, "deleteMany"),

    getAccountUsage: (_r, { accountId, window, splitBy, signal }) =>
      get(`/api/accounts/${seg(accountId)}/usage`, { window, split_by: splitBy }, signal),
    getAccountTop: (_r, { accountId, dimension, pageSize, pageToken, signal }) =>
      get(`/api/accounts/${seg(accountId)}/top`, { dimension, page_size: pageSize, page_token: pageToken }, signal),
    getRateTableInEffect: (_r, { tableId, signal }) => get("/api/rate-tables/in-effect", { table_id: tableId }, signal),
    getRateTableDiff: (_r, { tableId, from, to, signal }) => get("/api/rate-tables/diff", { table_id: tableId, from, to }, signal),
    publishRateTable: (_r, body) => post("/api/rate-tables", body),
    publishPlan: (_r, body) => post("/api/plans", body),
    exportEntries: async (_r, { filter }) => {
      // A file, not JSON: fetched directly (a host's httpClient answers parsed JSON).
      const token = await getToken();
      const response = await fetch(url("/api/entries.csv", listQuery(listRoute(RESOURCES.entries), filter)), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) throw toHttpError(response.status, await response.json().catch(() => undefined), response.headers);
      const filename = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? "entries.csv";
      return { blob: await response.blob(), filename };
    },
    grantCredits: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/grants`, body),
    adjustBalance: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/adjustments`, body),
    reverseCharge: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/reversals`, body),
    setAccountStatus: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/status`, body),
    changePlan: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/plan`, body),
    setAccountLimits: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/limits`, body),
    setSpendCap: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/spend-cap`, body),
    setBudget: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/budgets`, body),
    deleteBudget: (_r, { accountId, budgetId, reason, idempotencyKey }) =>
      request("DELETE", `/api/accounts/${seg(accountId)}/budgets/${seg(budgetId)}`, undefined, { reason }, undefined, idempotencyKey),
    resendNotification: (_r, { id, ...body }) => post(`/api/notifications/${seg(id)}/resend`, body),
    dismissBanner: (_r, { id, ...body }) => post(`/api/banners/${seg(id)}/dismiss`, body),
    search: (_r, { q, signal }) => get("/api/search", { q }, signal),
    getMemberUsage: (_r, { accountId, unit, signal }) => get(`/api/accounts/${seg(accountId)}/member-usage`, { unit }, signal),
    getPreferences: (_r, { accountId, signal }) => get(`/api/accounts/${seg(accountId)}/preferences`, undefined, signal),
    setEmailRecipients: (_r, { accountId, ...body }) => post(`/api/accounts/${seg(accountId)}/preferences`, body),
    getAccountTools: (_r, { accountId, pageSize, pageToken, signal }) =>
      get(`/api/accounts/${seg(accountId)}/tools`, { page_size: pageSize, page_token: pageToken }, signal),
  };
  return provider;
}
