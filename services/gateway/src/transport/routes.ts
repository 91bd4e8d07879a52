import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { status } from "@grpc/grpc-js";
import { AlreadyExistsError, FailedPreconditionError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { call, characters, DEFAULT_MAX_LENGTH, errorDetails, fromProtoJson, isActorName, jsonFieldPath, MAX_ACTOR_LENGTH, MAX_PAGE_SIZE, page as paged, pageScope, pageSize, renameField, scopedToken, tokenPosition, withoutCredentials } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { currentTraceId, log } from "@tollgate/telemetry";
import { MAX_KEY_LENGTH, type CallAuditLog } from "@tollgate/db";
import type { AuditStore } from "../data/audit-store.js";
import { parseAmount } from "../domain/amount.js";
import { requireReason, requireRole, type Role, type User } from "../domain/access.js";
import { refusedAsSent } from "./http-errors.js";
import { ENTRY_CSV_HEADER, ENTRY_CSV_TRUNCATED, entryCsvLine, MAX_EXPORT_ROWS } from "./entries-csv.js";
import { ENTRY_ID } from "./receipt-routes.js";
import { timesGiven } from "./framework.js";
import { accountView, balanceView, bannerView, budgetView, entryView, holdView, notificationView, planView, preferencesView, rateTableView, searchHitView, workView } from "./views.js";

export interface Clients {
  entitlements: entitlementsV1.EntitlementsServiceClient;
  pricing: pricingV1.PricingServiceClient;
  ledger: ledgerV1.LedgerServiceClient;
  notifications: notificationsV1.NotificationsServiceClient;
}

/** The query string as the routes read it: only the parameters the route takes, each once, as text (`checkQuery` saw to it before any route ran). */
type Query = Record<string, string | undefined>;
type Body = Record<string, unknown>;

const userOf = (request: FastifyRequest) => (request as FastifyRequest & { user: User }).user;

const checkedBodies = new WeakSet<FastifyRequest>();

/** What an action's body field holds: text, an amount (text, or a JSON number `parseAmount` checks), true or false, a list, an object. */
type FieldKind = "text" | "amount" | "flag" | "list" | "object";

const KIND_CHECKS: Record<FieldKind, [(value: unknown) => boolean, string]> = {
  text: [(v) => typeof v === "string", "must be a string"],
  amount: [(v) => typeof v === "string" || typeof v === "number", "must be a string like \"500\" or \"2.5\""],
  flag: [(v) => typeof v === "boolean", "must be true or false"],
  list: [Array.isArray, "must be a list"],
  object: [(v) => typeof v === "object" && !Array.isArray(v), "must be an object"],
};

/**
 * An action's JSON body, checked before anything reads it: a key the route
 * does not take is 400 naming it (a misspelt `expires_at` must not grant
 * credits that never expire), and a value of the wrong kind (an object where
 * text belongs) is 400 naming its field. Every action takes a text `reason`;
 * `fields` are the route's others (absent or null: not given). An action
 * whose route does not call this takes `reason` alone (the action runner
 * checks).
 */
function bodyOf(request: FastifyRequest, fields: Record<string, FieldKind>): Body {
  checkedBodies.add(request);
  // No body at all is an empty one (a DELETE sends none); JSON's null is not an object.
  const body = request.body === undefined ? {} : request.body;
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new InvalidArgumentError("body", "must be a JSON object");
  const kinds: Record<string, FieldKind> = { reason: "text", ...fields };
  for (const [key, value] of Object.entries(body)) {
    // Own keys only: a body key like "constructor" must not find the object's inherited properties.
    const kind = Object.hasOwn(kinds, key) ? kinds[key] : undefined;
    if (!kind) throw new InvalidArgumentError(key.slice(0, 64), `is not a field of this request (it takes ${Object.keys(kinds).join(", ")})`);
    const [fits, problem] = KIND_CHECKS[kind];
    if (value !== undefined && value !== null && !fits(value)) throw new InvalidArgumentError(key, problem);
  }
  return body as Body;
}

/** A service call whose refusal names this route's body field rather than the field of the service's request (renameField). */
function asBody<T>(pending: Promise<T>, rename: (field: string) => string | undefined): Promise<T> {
  return pending.catch((error: unknown) => {
    throw renameField(error, rename);
  });
}

/**
 * A field of a document the console sends in the proto's JSON form (`rates[0].model_reply.micros_per_reply`, as the
 * service names it) as the document names it: `rates[0].modelReply.microsPerReply`.
 */
const asDocument = (prefix: "rates" | "plan") => (field: string) =>
  field === prefix || field.startsWith(`${prefix}[`) || field.startsWith(`${prefix}.`) ? jsonFieldPath(field) : undefined;

/** The service's `amount_micros` is the body's `amount`. */
const amountField = (field: string) => (field === "amount_micros" ? "amount" : undefined);

/** An ISO 8601 date and time with its offset, e.g. 2026-12-31T00:00:00Z: nothing a server's time zone or a lenient parser could read another way. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Whether the parts of an ISO_TIME match name a real day and time (Date rolls 30 February over into March, and 24:00 into the next day). */
function realTime([, year, month, day, hour, minute, second = "0", offsetHours = "0", offsetMinutes = "0"]: RegExpExecArray): boolean {
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return (
    date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day) &&
    Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60 && Number(offsetHours) < 24 && Number(offsetMinutes) < 60
  );
}

/** An optional time field (absent, null or empty: not given). */
function optionalTime(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const parts = typeof value === "string" ? ISO_TIME.exec(value) : null;
  if (!parts || !realTime(parts)) {
    // A `+` offset sent bare in a URL's query arrives as a space.
    const hint = typeof value === "string" && / \d{2}:\d{2}$/.test(value) ? " (in a URL, write the offset's + as %2B)" : "";
    throw new InvalidArgumentError(field, `must be a real date and time with its offset (ISO 8601), like 2026-12-31T00:00:00Z${hint}`);
  }
  return new Date(value as string);
}

/**
 * A bound of a period of entries: a time (optionalTime) to the millisecond, as entries' times are shown. Finer, it
 * would be cut to the millisecond on its way to the ledger (as every time a request carries) and could move an entry
 * recorded in that millisecond across the bound.
 */
function periodBound(value: unknown, field: string): Date | undefined {
  if (typeof value === "string" && /\.\d{4,}/.test(value)) throw new InvalidArgumentError(field, "must be to the millisecond (at most three decimals), as entries' times are shown");
  return optionalTime(value, field);
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The query parameters an API route takes (`takes`); unset: none. */
    query?: readonly string[];
    /** The least role an API route's action needs (`needs`), checked before its body is read; unset: any signed-in user. */
    role?: Role;
  }
}

/** A list's paging parameters (`page`). */
export const PAGE = ["page_size", "page_token"] as const;

/** An action route's options naming the least role it needs: checked before anything of the request is read, so a viewer's attempt is a 403 (and audited as one), never a 400 about its body. */
export const needs = (role: Role) => ({ config: { role } });

/** An API route's options naming the query parameters it takes: a name, or a prefix and `*` (`attr.*`: any `attr.<dimension>`). */
export const takes = (...names: string[]) => ({ config: { query: names } });

const isTaken = (name: string, names: readonly string[]) =>
  names.some((taken) => (taken.endsWith("*") ? name.length >= taken.length && name.startsWith(taken.slice(0, -1)) : name === taken));

/**
 * The query of an API request, checked before its route runs: a parameter
 * the route does not take is 400 naming it (a misspelt `acount_id` must not
 * list every account's rows), and each must be given once, as text without
 * control characters: a repeated one (`?q=a&q=b`) arrives as a list, and a
 * NUL (`%00`), which PostgreSQL refuses in text, would fail deep in a store.
 */
/** What every API route checks first, after sign-in: the role it needs (`needs`), then its query (`takes`). */
export function checkRoute(request: FastifyRequest): void {
  const { config, url } = request.routeOptions;
  if (config.role) requireRole(userOf(request), config.role, `${request.method} ${url}`);
  // `/api/accounts/` reaches `/api/accounts/:id` with an empty id: named, not "account not found: ".
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, string>)) {
    if (value === "") throw new InvalidArgumentError(name, "must not be empty");
  }
  // Node keeps the first of two Content-Type headers: a proxy that read the other could have passed another body.
  if (timesGiven(request, "content-type") > 1) throw new InvalidArgumentError("Content-Type", "must be given once");
  checkQueryEncoding(request.raw.url ?? "");
  checkQuery(request.query, config.query);
}

/** A query's text decoded as URLs encode it (`+` a space), or undefined when it is not percent-encoded UTF-8. */
function decodedQueryText(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/**
 * Each name and value of a query as sent must be percent-encoded UTF-8: the
 * query reader keeps what it cannot decode as it was written, so `?q=%ff`
 * would be searched for as the text "%ff".
 */
function checkQueryEncoding(url: string): void {
  // Where the router starts a query: the first `?`, or a `#` (which a browser never sends, and the router reads as one).
  const start = url.search(/[?#]/);
  if (start < 0) return;
  for (const pair of url.slice(start + 1).split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const name = decodedQueryText(equals < 0 ? pair : pair.slice(0, equals));
    if (name === undefined) throw new InvalidArgumentError("query", "has a parameter name that is not percent-encoded UTF-8");
    if (name === "") throw new InvalidArgumentError("query", "has a value without a parameter name");
    if (equals >= 0 && decodedQueryText(pair.slice(equals + 1)) === undefined) {
      throw new InvalidArgumentError(name.slice(0, 64), "is not percent-encoded UTF-8");
    }
  }
}

export function checkQuery(query: unknown, names: readonly string[] = []): void {
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    // A name JavaScript objects already have (`attr.__proto__`) would be dropped by whoever reads it into an object.
    if (!isTaken(name, names) || /(^|\.)(__proto__|constructor|prototype)$/.test(name)) {
      throw new InvalidArgumentError(name.slice(0, 64), `is not a parameter of this request (it takes ${names.length ? names.join(", ") : "none"})`);
    }
    if (typeof value !== "string") throw new InvalidArgumentError(name, "must be given once");
    if (/\p{Cc}/u.test(value)) throw new InvalidArgumentError(name, "must not contain control characters");
    // A parameter given empty is not one left out: a script's unset variable (`recorded_from=$FROM`) would otherwise list, or
    // export, every row as one period's. The first page's empty `page_token` and a default `page_size` are the paging's own.
    if (value === "" && !(PAGE as readonly string[]).includes(name)) throw new InvalidArgumentError(name, "must not be empty: leave it out for every value, or the default");
  }
}

/** A query's true or false (unset: false); anything else is 400, not false. */
function queryFlag(query: Query, name: string): boolean {
  const text = query[name];
  if (text !== undefined && text !== "true" && text !== "false") throw new InvalidArgumentError(name, "must be true or false");
  return text === "true";
}

/** Hits per kind of match a search may ask for (the ledger's bound: ledger.proto `SearchRequest.limit`). */
const MAX_SEARCH_LIMIT = 100;
/** Entries a hold's timeline shows at most (its newest): a hold holding more says so (`entries_more`). */
const HOLD_TIMELINE_ENTRIES = 500;

/** A whole number from 0 to `max` (unset: 0, the service's default), or 400 naming it (past its int32 field, the call could not be sent). */
function wholeNumber(query: Query, name: string, max: number): number {
  const text = query[name];
  // Decimal digits only: Number() would also read "1e2", "0x10", "+5", "2.0" or a blank as numbers.
  const value = text === undefined ? 0 : /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < 0 || value > max) throw new InvalidArgumentError(name, `must be a whole number from 0 to ${max}`);
  return value;
}

/** A list's page from `page_size` (0 or unset: the service's default) and `page_token`. */
export function page(query: Query) {
  return { pageSize: wholeNumber(query, "page_size", MAX_PAGE_SIZE), pageToken: query.page_token ?? "" };
}

/** A search box's text (`q`), as long as the services take (named `q` here, not the services' `query`). */
function searchText(q: string): string {
  if (characters(q, DEFAULT_MAX_LENGTH) > DEFAULT_MAX_LENGTH) throw new InvalidArgumentError("q", `must be at most ${DEFAULT_MAX_LENGTH} characters`);
  return q;
}

function required(value: unknown, field: string): string {
  if (value === undefined || value === null || value === "") throw new InvalidArgumentError(field, "is required");
  if (typeof value !== "string") throw new InvalidArgumentError(field, "must be a string");
  return value;
}

/** A version or id sent as text: a positive whole number its int64 field holds, or 400 naming the field. */
function positiveInt64(value: unknown, field: string): string {
  const text = required(value, field);
  if (!ENTRY_ID.test(text)) throw new InvalidArgumentError(field, "must be a positive whole number (at most 18 digits)");
  return text;
}

/** A table's own entry for a name a request sent (never one it inherits, such as `constructor`). */
const known = <T>(table: Record<string, T>, name: string): T | undefined => (Object.hasOwn(table, name) ? table[name] : undefined);

/** A table's entry for the name a request sent in `field`, or 400 naming the field and the names it takes. */
function oneOf<T>(table: Record<string, T>, name: string, field: string): T {
  const value = known(table, name);
  if (value === undefined) throw new InvalidArgumentError(field, `must be one of ${Object.keys(table).join(", ")}`);
  return value;
}

/** A unit by its API name (unset: `byDefault`). */
export function unitOf(value: unknown, byDefault = "credits"): commonV1.Unit {
  return oneOf(UNITS, String(value ?? byDefault), "unit");
}

/** The unit a usage read sums: the one named, or (unset) the account's own, which the ledger decides. */
const usageUnitOf = (value: unknown): commonV1.Unit => (value === undefined || value === "" ? commonV1.Unit.UNIT_UNSPECIFIED : unitOf(value));

/** An optional list of whole numbers (the ledger checks their range; here only that each is one and fits its int32 field). */
function wholeNumbers(value: unknown, field: string): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, "must be a list of whole numbers");
  value.forEach((v, index) => {
    if (!Number.isInteger(v)) throw new InvalidArgumentError(`${field}[${index}]`, "must be a whole number");
    if (Math.abs(v as number) >= 2 ** 31) throw new InvalidArgumentError(`${field}[${index}]`, `is out of range (a percent is from 1 to 1000)`);
  });
  return value as number[];
}

/** An optional true or false (absent: false). */
function flag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new InvalidArgumentError(field, "must be true or false");
  return value;
}

/** The kinds of work, as the contract names them ("guardrail", "custom_script"…). */
const WORK_KINDS: string[] = Object.values(commonV1.WorkKind)
  .filter((v): v is commonV1.WorkKind => typeof v === "number" && v > 0)
  .map((v) => commonV1.workKindToJSON(v).slice("WORK_KIND_".length).toLowerCase());
const UNITS: Record<string, commonV1.Unit> = { credits: commonV1.Unit.UNIT_CREDITS, tool_runs: commonV1.Unit.UNIT_TOOL_RUNS, usd: commonV1.Unit.UNIT_USD };
const BUDGET_SCOPES: Record<string, ledgerV1.BudgetScope> = {
  task: ledgerV1.BudgetScope.BUDGET_SCOPE_TASK, agent: ledgerV1.BudgetScope.BUDGET_SCOPE_AGENT, user: ledgerV1.BudgetScope.BUDGET_SCOPE_USER,
  workspace: ledgerV1.BudgetScope.BUDGET_SCOPE_WORKSPACE, workspace_group: ledgerV1.BudgetScope.BUDGET_SCOPE_WORKSPACE_GROUP,
};
const GRANT_KINDS: Record<string, entitlementsV1.PoolKind> = {
  bonus: entitlementsV1.PoolKind.POOL_KIND_BONUS,
  add_on: entitlementsV1.PoolKind.POOL_KIND_ADD_ON,
  free_grant: entitlementsV1.PoolKind.POOL_KIND_FREE_GRANT,
};
const WINDOWS: Record<string, ledgerV1.UsageWindow> = {
  "24h": ledgerV1.UsageWindow.USAGE_WINDOW_DAY_HOURLY,
  "7d": ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY,
  "30d": ledgerV1.UsageWindow.USAGE_WINDOW_MONTH_WEEKLY,
};
/** How long a console action's Idempotency-Key replays: within the least any service keeps its answers (IDEMPOTENCY_RETENTION_HOURS ≥ 24), an hour to spare. */
const REPLAY_WINDOW_MS = 23 * 3_600_000;
const ENTRY_KINDS = ["grant", "charge", "adjust", "expire", "reset", "reverse"];
const HOLD_STATUSES = ["open", "charged", "released", "expired"];

/** Where a page of the audit log starts in each of its two logs: below an id, from the top (undefined), or past the end (0). */
function auditCursor(token: string | undefined): { console: bigint | undefined; calls: bigint | undefined } {
  if (!token) return { console: undefined, calls: undefined };
  const match = /^(\d{0,18})\.(\d{0,18})$/.exec(token);
  // "." names neither log: no page handed one out.
  if (!match || token === ".") throw new InvalidArgumentError("page_token", "not a token from a previous page");
  const part = (value: string) => (value === "" ? undefined : BigInt(value));
  return { console: part(match[1]!), calls: part(match[2]!) };
}

/** A request's Idempotency-Key (unset or blank: none), at most the services' bound for keys (MAX_KEY_LENGTH, 128: API.md). */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers["idempotency-key"];
  if (Array.isArray(header) || timesGiven(request, "idempotency-key") > 1) throw new InvalidArgumentError("Idempotency-Key", "must be given once");
  const key = (header ?? "").trim();
  if (key.length > MAX_KEY_LENGTH) throw new InvalidArgumentError("Idempotency-Key", `must be at most ${MAX_KEY_LENGTH} characters`);
  // Header values arrive as bytes: printable ASCII is all a key may hold that reads back the same (UTF-8 would arrive as other characters).
  if (!/^[\x20-\x7e]*$/.test(key)) throw new InvalidArgumentError("Idempotency-Key", "must be printable ASCII, like order-1234-retry (no control characters, no letters outside ASCII)");
  return key || undefined;
}

/** The key the services see for a user's Idempotency-Key: `console-` and a hash of the user and the key (fits the services' 128 characters, whatever the name). */
const usersKey = (username: string, key: string): string => `console-${createHash("sha256").update(username).update("\n").update(key).digest("base64url")}`;

export function registerRoutes(app: FastifyInstance, clients: Clients, audit: AuditStore, calls: CallAuditLog): void {
  const { entitlements, pricing, ledger, notifications } = clients;

  /**
   * An action retried with the key of one already audited: the same action on
   * the same target, recent enough that every service still holds its answer
   * (so the retry replays it, and the audit row stays the first one's, which
   * this answers). Anything else would act again without a row of its own: 409.
   */
  async function replayable(actor: string, key: string, spec: { name: string; target: string }) {
    // Its audit row holds the key the services saw: the user's (usersKey), or, for an action audited before keys were the user's, the key as sent.
    for (const sent of [usersKey(actor, key), key]) {
      const first = await audit.recorded(actor, sent);
      if (!first) continue;
      if (first.action !== spec.name || first.target !== spec.target) throw new IdempotencyKeyReusedError(key);
      if (Date.now() - first.createdAt.getTime() > REPLAY_WINDOW_MS) {
        throw new AlreadyExistsError(`idempotency key ${key} was first used ${first.createdAt.toISOString()}, too long ago to replay: send a new key`, "IDEMPOTENCY_KEY_EXPIRED", { idempotency_key: key });
      }
      return { first, sent };
    }
    return null;
  }

  /** Runs a support action (its route checked the role first: `needs`): reason, before/after, and an audit row with the trace id. */
  async function action<T>(
    request: FastifyRequest,
    spec: {
      name: string;
      target: string;
      /** The account the action is on; read from the answer when only the service knows it (a banner's, a notification's). */
      accountId: string | null | ((result: NoInfer<T>) => string);
      before?: () => Promise<unknown>;
      run: (reason: string, key: string) => Promise<T>;
      after?: (result: T) => unknown;
    },
  ) {
    const user = userOf(request);
    const reason = requireReason((checkedBodies.has(request) ? (request.body as Body | undefined) : bodyOf(request, {}))?.reason);
    const given = idempotencyKeyOf(request);
    const use = { action: spec.name, target: spec.target };
    if (given) {
      // Claimed before anything is done: a key sent at once to two targets runs one action and refuses the other.
      const first = await audit.claim(user.username, usersKey(user.username, given), use);
      if (first.action !== spec.name || first.target !== spec.target) throw new IdempotencyKeyReusedError(given);
    }
    const replay = given ? await replayable(user.username, given, spec) : null;
    const replayed = replay?.first ?? null;
    // A key is its user's: the services see it with the user's name folded in, so another user's same key is another action
    // (a retry sends what its first request sent, so the service replays that one's answer).
    const key = replay?.sent ?? (given ? usersKey(user.username, given) : `console-${randomUUID()}`);
    const refused = async (error: unknown): Promise<never> => {
      // The services name the key they saw (the user's, hashed): the caller is told of the key it sent.
      if (given && errorDetails(error).reason === "IDEMPOTENCY_KEY_REUSED") throw new IdempotencyKeyReusedError(given);
      // Refused for what was sent, so nothing was done: the key is free again, for the corrected request on any target.
      // After an answer that does not say (a timeout, an unavailable service) it stays claimed: the action may have run.
      if (given && !replayed && refusedAsSent(error)) await audit.release(user.username, usersKey(user.username, given), use);
      throw error;
    };
    const before = spec.before ? await spec.before().catch(refused) : null;
    const result = await spec.run(reason, key).catch(refused);
    // A replay answers the first request's audit row; a new action writes its own.
    const row = replayed ?? await audit.record({
      actor: user.username,
      role: user.role,
      action: spec.name,
      target: spec.target,
      accountId: typeof spec.accountId === "function" ? spec.accountId(result) : spec.accountId,
      reason,
      before,
      after: spec.after ? spec.after(result) : result,
      traceId: currentTraceId(),
      idempotencyKey: given ? key : null,
    });
    return { ...(spec.after ? (spec.after(result) as object) : (result as object)), audit_id: row.auditId };
  }

  const balanceOf = async (accountId: string) => balanceView(await call(ledger, ledger.getBalance, { accountId }));

  app.get("/api/me", async (request) => userOf(request));

  app.get("/api/accounts", takes("q", ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await call(entitlements, entitlements.listAccounts, { page: page(query), query: searchText(query.q ?? "") });
    return { data: response.accounts.map(accountView), next_page_token: response.nextPageToken };
  });

  app.get("/api/accounts/:id", async (request) => {
    const { id } = request.params as { id: string };
    const { account, plan } = await call(entitlements, entitlements.getAccount, { accountId: id });
    const [balance, banners] = await Promise.all([
      balanceOf(id),
      call(notifications, notifications.listBanners, { accountId: id, includeDismissed: false }),
    ]);
    return { ...accountView(account!), plan: plan ? planView(plan) : null, balance, banners: banners.banners.map(bannerView) };
  });

  app.get("/api/accounts/:id/usage", takes("window", "split_by", "unit"), async (request) => {
    const { id } = request.params as { id: string };
    const query = request.query as Query;
    const window = known(WINDOWS, query.window ?? "7d");
    if (window === undefined) throw new InvalidArgumentError("window", "must be 24h, 7d or 30d");
    const usage = await call(ledger, ledger.getUsage, { accountId: id, window, splitBy: query.split_by || "surface", unit: usageUnitOf(query.unit) });
    return { points: usage.points.map((p) => ({ start: p.start?.toISOString(), key: p.key, amount_micros: p.amountMicros, requests: p.requests })) };
  });

  app.get("/api/accounts/:id/top", takes("dimension", "unit", ...PAGE), async (request) => {
    const { id } = request.params as { id: string };
    const query = request.query as Query;
    const top = await call(ledger, ledger.getTopUsage, { accountId: id, dimension: required(query.dimension, "dimension"), since: undefined, page: page(query), unit: usageUnitOf(query.unit) });
    return {
      data: top.rows.map((r) => ({ id: r.key || "(none)", key: r.key, amount_micros: r.amountMicros, requests: r.requests, share_basis_points: r.shareBasisPoints })),
      total_micros: top.totalMicros,
      next_page_token: top.nextPageToken,
    };
  });

  /** ListEntries' filters from the query: the account (required), a hold, a kind, the period recorded in, attribution as attr.<dimension>=value. */
  const ENTRY_FILTERS = ["account_id", "hold_id", "kind", "recorded_from", "recorded_before", "attr.*"];
  const entryFilters = (query: Query) => {
    if (query.kind && !ENTRY_KINDS.includes(query.kind)) throw new InvalidArgumentError("kind", `must be one of ${ENTRY_KINDS.join(", ")}`);
    return {
      accountId: required(query.account_id, "account_id"),
      holdId: query.hold_id ?? "",
      kind: query.kind ? ledgerV1.entryKindFromJSON(`ENTRY_KIND_${query.kind.toUpperCase()}`) : ledgerV1.EntryKind.ENTRY_KIND_UNSPECIFIED,
      recordedFrom: periodBound(query.recorded_from, "recorded_from"),
      recordedBefore: periodBound(query.recorded_before, "recorded_before"),
      attribution: Object.fromEntries(
        Object.entries(query)
          .filter(([key]) => key.startsWith("attr."))
          .map(([key, value]) => [key.slice(5), String(value)]),
      ),
    };
  };

  /** The name a JSON string holds (`"team"` is team), or undefined when it is not one. */
  const quotedName = (text: string): string | undefined => {
    if (!/^".*"$/.test(text)) return undefined;
    try {
      return JSON.parse(text) as string;
    } catch {
      return undefined;
    }
  };

  /** ListEntries, its refusal of an attribution filter named as the query names it (`attribution[team]` is `attr.team`, all of them `attr.*`). */
  const listEntries = (request: ledgerV1.ListEntriesRequest) =>
    asBody(call(ledger, ledger.listEntries, request), (field) => {
      // Too many filters at once: the query's are all `attr.*`.
      if (field === "attribution") return "attr.*";
      // The ledger writes `attribution[team]`, its request checks `attribution["team"]`; a name may itself hold quotes.
      const key = /^attribution\[(.*)\]$/.exec(field)?.[1];
      return key === undefined ? undefined : `attr.${quotedName(key) ?? key}`;
    });

  app.get("/api/entries", takes(...ENTRY_FILTERS, ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await listEntries({ ...entryFilters(query), page: page(query) });
    return { data: response.entries.map(entryView), next_page_token: response.nextPageToken };
  });

  // The same entries as CSV, newest first, page after page as they stream out (at most MAX_EXPORT_ROWS).
  // No HEAD: it would page through the whole export for an empty answer.
  app.get("/api/entries.csv", { exposeHeadRoute: false, ...takes(...ENTRY_FILTERS) }, async (request, reply) => {
    const filters = entryFilters(request.query as Query);
    const pageOf = (pageToken: string) => listEntries({ ...filters, page: { pageSize: MAX_PAGE_SIZE, pageToken } });
    // The first page before answering: a bad filter or an unknown account is an error in the API's shape, not a broken download.
    const first = await pageOf("");
    const traceId = currentTraceId();
    async function* lines() {
      yield ENTRY_CSV_HEADER;
      let written = 0;
      try {
        for (let page = first; ; page = await pageOf(page.nextPageToken)) {
          for (const entry of page.entries) {
            if (written++ === MAX_EXPORT_ROWS) {
              yield ENTRY_CSV_TRUNCATED;
              return;
            }
            yield entryCsvLine(entryView(entry));
          }
          if (!page.nextPageToken) return;
        }
      } catch (error) {
        // The answer has begun: the download ends short, and the reason is here.
        log().error({ err: error, trace_id: traceId, account_id: filters.accountId, written }, "entries export failed part-way");
        throw error;
      }
    }
    const name = filters.accountId.replace(/[^\w.-]/g, "_");
    return reply
      .header("content-type", "text/csv; charset=utf-8")
      .header("cache-control", "no-store")
      .header("content-disposition", `attachment; filename="entries-${name}.csv"`)
      .send(Readable.from(lines()));
  });

  app.get("/api/holds", takes("account_id", "status", ...PAGE), async (request) => {
    const query = request.query as Query;
    if (query.status && !HOLD_STATUSES.includes(query.status)) throw new InvalidArgumentError("status", `must be one of ${HOLD_STATUSES.join(", ")}`);
    const response = await call(ledger, ledger.listHolds, {
      accountId: query.account_id ?? "",
      status: query.status ? ledgerV1.holdStatusFromJSON(`HOLD_STATUS_${query.status.toUpperCase()}`) : ledgerV1.HoldStatus.HOLD_STATUS_UNSPECIFIED,
      page: page(query),
    });
    return { data: response.holds.map(holdView), next_page_token: response.nextPageToken };
  });

  app.get("/api/work", takes("account_id", "kind", "state", "work_id", ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await call(ledger, ledger.listMeteredWork, { accountId: query.account_id ?? "", kind: query.kind ?? "", state: query.state ?? "", workId: query.work_id ?? "", page: page(query) });
    return { data: response.work.map(workView), next_page_token: response.nextPageToken };
  });

  app.get("/api/holds/:id", async (request) => {
    const { id } = request.params as { id: string };
    const { hold } = await call(ledger, ledger.getHold, { holdId: id });
    // Its newest entries, and whether there are earlier ones (a long streamed hold): `/api/entries?hold_id=` lists them all.
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: hold!.accountId, holdId: id, page: { pageSize: HOLD_TIMELINE_ENTRIES, pageToken: "" } }));
    return { ...holdView(hold!), entries: entries.entries.map(entryView), entries_more: entries.nextPageToken !== "" };
  });

  // Support search across accounts: a hold, entry, idempotency key, trace, conversation, task, run or deployment id.
  app.get("/api/search", takes("q", "limit"), async (request) => {
    const query = request.query as Query;
    const limit = wholeNumber(query, "limit", MAX_SEARCH_LIMIT);
    const response = await call(ledger, ledger.search, { query: searchText(required(query.q?.trim(), "q")), limit });
    return { data: response.hits.map(searchHitView) };
  });

  app.get("/api/plans", takes("all_versions", ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await call(entitlements, entitlements.listPlans, { page: page(query), allVersions: queryFlag(query, "all_versions") });
    return { data: response.plans.map(planView), next_page_token: response.nextPageToken };
  });

  app.get("/api/plans/:version", async (request) => {
    const { version } = request.params as { version: string };
    const { plan } = await call(entitlements, entitlements.getPlan, { planId: "", version: positiveInt64(version, "version") });
    return planView(plan!);
  });

  app.get("/api/rate-tables", takes("table_id", ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await call(pricing, pricing.listRateTableVersions, { tableId: query.table_id ?? "", page: page(query) });
    return { data: response.tables.map(rateTableView), next_page_token: response.nextPageToken };
  });

  app.get("/api/rate-tables/diff", takes("table_id", "from", "to"), async (request) => {
    const query = request.query as Query;
    const diff = await call(pricing, pricing.diffRateTables, { tableId: required(query.table_id, "table_id"), fromVersion: positiveInt64(query.from, "from"), toVersion: positiveInt64(query.to, "to") });
    return {
      changes: diff.changes.map((c) => ({ key: c.key, before: c.before ? pricingV1.Rate.toJSON(c.before) : null, after: c.after ? pricingV1.Rate.toJSON(c.after) : null })),
    };
  });

  app.get("/api/rate-tables/in-effect", takes("table_id"), async (request) => {
    const query = request.query as Query;
    const { table } = await call(pricing, pricing.getRateTable, { tableId: required(query.table_id, "table_id"), version: "0", at: undefined, sequence: "0" });
    return rateTableView(table!);
  });

  app.get("/api/rate-tables/:table_id/:version", async (request) => {
    const { table_id: tableId, version } = request.params as { table_id: string; version: string };
    const { table } = await call(pricing, pricing.getRateTable, { tableId, version: positiveInt64(version, "version"), at: undefined, sequence: "0" });
    return rateTableView(table!);
  });

  app.get("/api/notifications", takes("account_id", "trace_id", ...PAGE), async (request) => {
    const query = request.query as Query;
    const response = await call(notifications, notifications.listNotifications, { accountId: query.account_id ?? "", traceId: query.trace_id ?? "", page: page(query) });
    return { data: response.notifications.map(notificationView), next_page_token: response.nextPageToken };
  });

  app.get("/api/audit", takes("account_id", "actor", "refused", ...PAGE), async (request) => {
    const query = request.query as Query;
    const limit = pageSize(page(query).pageSize);
    if (query.actor !== undefined && !isActorName(query.actor)) throw new InvalidArgumentError("actor", `must be a user or principal's name as audit rows show it: 1 to ${MAX_ACTOR_LENGTH} characters, no control or bidirectional formatting character`);
    const refused = query.refused === undefined ? undefined : queryFlag(query, "refused");
    const scope = pageScope("audit", { accountId: query.account_id ?? "", ...(query.actor ? { actor: query.actor } : {}), ...(refused !== undefined ? { refused } : {}) });
    const cursor = auditCursor(tokenPosition(scope, query.page_token, "page_token"));
    const filter = { ...(query.account_id ? { accountId: query.account_id } : {}), ...(query.actor ? { actor: query.actor } : {}) };
    // The console's own log holds the actions it performed; every refusal is in the calls' log.
    const consoleDone = cursor.console === 0n || refused === true;
    const [consoleRows, callRows] = await Promise.all([
      consoleDone ? [] : audit.list({ ...filter, ...(cursor.console ? { beforeId: cursor.console } : {}), limit: limit + 1 }),
      cursor.calls === 0n ? [] : calls.list({ ...filter, ...(refused !== undefined ? { refused } : {}), ...(cursor.calls ? { beforeId: cursor.calls } : {}), limit: limit + 1 }),
    ]);
    // Both logs, newest first, merged head to head by time: each keeps its own order (by id), so what a page shows of a log is
    // what it gave up to a row, and the token keeps where each stopped. (Sorted as one list, a refused-request row whose time
    // a repeat moved up came before newer rows of its log, the token resumed below it, and those rows were never listed.)
    // Before and after are shown without credentials, as the calls' log records them now (rows written before that hold
    // webhook URLs whole).
    const merged = newestFirst(
      consoleRows.map((r) => ({
        at: r.createdAt, source: "console" as const, rowId: r.auditId,
        view: { id: r.auditId, source: "console", actor: r.actor, role: r.role, on_behalf_of: null, action: r.action, target: r.target, account_id: r.accountId,
          reason: r.reason, before: withoutCredentials(r.before), after: withoutCredentials(r.after), trace_id: r.traceId, outcome: "OK", count: 1, created_at: r.createdAt.toISOString() },
      })),
      callRows.map((c) => ({
        at: c.at, source: "grpc" as const, rowId: c.callId,
        // A gRPC method path, or a console request the gateway refused (`POST /api/…`).
        view: { id: `grpc-${c.callId}`, source: c.rpc.startsWith("/") ? "grpc" : "console", actor: c.principal, role: c.roles, on_behalf_of: c.onBehalfOf,
          action: c.rpc.startsWith("/") ? c.rpc.slice(c.rpc.lastIndexOf("/") + 1) : c.rpc,
          target: c.accountId ? `account:${c.accountId}` : c.rpc, account_id: c.accountId, reason: c.reason, before: withoutCredentials(c.before), after: withoutCredentials(c.after),
          trace_id: c.traceId, outcome: c.outcome, count: c.count, created_at: c.at.toISOString() },
      })),
    );
    // A mistyped account is NOT_FOUND, not an empty history (as the services' lists answer); asked only then.
    if (query.account_id && merged.length === 0 && !query.page_token) await call(entitlements, entitlements.getAccount, { accountId: query.account_id });
    const items = merged.slice(0, limit);
    // Per log: "0" when every row it gave made the page (it had fewer than asked: done), else below its last shown row.
    const next = (source: "console" | "grpc", fetched: number, previous: bigint | undefined) => {
      const shown = items.filter((i) => i.source === source);
      if (shown.length === fetched) return "0";
      return shown.at(-1)?.rowId ?? previous?.toString() ?? "";
    };
    const more = merged.length > limit;
    return {
      data: items.map((i) => i.view),
      next_page_token: more ? scopedToken(scope, `${next("console", consoleRows.length, cursor.console)}.${next("grpc", callRows.length, cursor.calls)}`) : "",
    };
  });

  app.post("/api/accounts/:id/grants", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    const body = bodyOf(request, { pool_kind: "text", unit: "text", amount: "amount", expires_at: "text" });
    const poolKind = oneOf(GRANT_KINDS, String(body.pool_kind), "pool_kind");
    const unit = unitOf(body.unit);
    const amount = parseAmount(body.amount, "amount");
    const expiresAt = optionalTime(body.expires_at, "expires_at");
    return action(request, {
      name: "grant",
      target: `account:${id}`,
      accountId: id,
      before: () => balanceOf(id),
      run: (reason, key) =>
        asBody(
          call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
            accountId: id, poolKind, unit, amountMicros: amount.toString(), ...(expiresAt ? { expiresAt } : {}), reason, actor: userOf(request).username, idempotencyKey: key,
          })),
          amountField,
        ),
      after: (r) => ({ pool_id: r.poolId, entry_id: r.entryId, balance_micros: r.balanceMicros }),
    });
  });

  app.post("/api/accounts/:id/adjustments", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    const body = bodyOf(request, { pool_id: "text", amount: "amount" });
    const poolId = required(body.pool_id, "pool_id");
    const amount = parseAmount(body.amount, "amount", { signed: true });
    return action(request, {
      name: "adjust",
      target: `pool:${poolId}`,
      accountId: id,
      before: () => balanceOf(id),
      run: (reason, key) => asBody(call(ledger, ledger.adjust, { accountId: id, poolId, amountMicros: amount.toString(), reason, actor: userOf(request).username, idempotencyKey: key }), amountField),
      // Recorded in the audit row too: the Adjust turned the pool's auto reload off.
      after: (r) => ({ entry_id: r.entryId, balance_micros: r.balanceMicros, reload_stopped: r.reloadStopped }),
    });
  });

  app.post("/api/accounts/:id/reversals", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    const body = bodyOf(request, { entry_id: "text" });
    const entryId = required(body.entry_id, "entry_id");
    if (!ENTRY_ID.test(entryId)) throw new InvalidArgumentError("entry_id", "must be a charge's entry id");
    return action(request, {
      name: "reverse_charge",
      target: `entry:${entryId}`,
      accountId: id,
      before: () => balanceOf(id),
      run: (reason, key) => call(ledger, ledger.reverseCharge, { accountId: id, entryId, reason, actor: userOf(request).username, idempotencyKey: key }),
      after: (r) => ({ entry_id: r.entryId, returned_micros: r.returnedMicros, balance_micros: r.balanceMicros }),
    });
  });

  app.post("/api/accounts/:id/budgets", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    const body = bodyOf(request, { unit: "text", scope: "text", scope_id: "text", mode: "text", limit: "amount", threshold_percents: "list", per_cycle: "flag" });
    const unit = unitOf(body.unit);
    const scope = oneOf(BUDGET_SCOPES, String(body.scope ?? ""), "scope");
    const scopeId = required(body.scope_id, "scope_id");
    const mode = body.mode === "soft" ? ledgerV1.BudgetMode.BUDGET_MODE_SOFT : body.mode === "hard" ? ledgerV1.BudgetMode.BUDGET_MODE_HARD : undefined;
    if (mode === undefined) throw new InvalidArgumentError("mode", "must be soft or hard");
    const limit = parseAmount(body.limit, "limit", { zero: true });
    const thresholds = wholeNumbers(body.threshold_percents, "threshold_percents");
    const perCycle = flag(body.per_cycle, "per_cycle");
    const budgetId = `${String(body.unit ?? "credits")}/${String(body.scope)}/${scopeId}`;
    return action(request, {
      name: "set_budget",
      // Budget ids are the account's own: the target names the account, so a key reused on another account's budget is refused.
      target: `account:${id}/budget:${budgetId}`,
      accountId: id,
      before: async () => (await balanceOf(id)).budgets.find((b) => b.id === budgetId) ?? null,
      run: (reason, key) =>
        asBody(
          call(ledger, ledger.setBudget, ledgerV1.SetBudgetRequest.fromPartial({
            accountId: id, unit, scope, scopeId, limitMicros: limit.toString(), mode, perCycle, thresholdPercents: thresholds,
            reason, actor: userOf(request).username, idempotencyKey: key,
          })),
          (field) => (field === "limit_micros" ? "limit" : undefined),
        ),
      after: (r) => ({ budget: budgetView(r.budget!) }),
    });
  });

  app.delete("/api/accounts/:id/budgets/:budget_id", needs("operator"), async (request) => {
    const { id, budget_id: budgetId } = request.params as { id: string; budget_id: string };
    return action(request, {
      name: "delete_budget",
      target: `account:${id}/budget:${budgetId}`,
      accountId: id,
      before: async () => (await balanceOf(id)).budgets.find((b) => b.id === budgetId) ?? null,
      run: (reason, key) => call(ledger, ledger.deleteBudget, { accountId: id, budgetId, reason, actor: userOf(request).username, idempotencyKey: key }),
      after: (r) => ({ removed: budgetView(r.budget!) }),
    });
  });

  /**
   * A plan prices with its rate table (the contract's `default` when it names
   * none). One whose table has no version in effect would fail every charge
   * of its accounts, so the console refuses to publish it or move an account
   * to it, naming `field`.
   */
  async function requirePricedBy(plan: entitlementsV1.Plan, field: string): Promise<void> {
    const tableId = plan.rateTableId || "default";
    try {
      await call(pricing, pricing.getRateTable, { tableId, version: "0", at: undefined, sequence: "0" });
    } catch (error) {
      if (errorDetails(error).code !== status.NOT_FOUND) throw error;
      throw new FailedPreconditionError(
        `plan ${plan.planId} prices with rate table ${tableId}, which has no version in effect: publish the rate table first, or name another`,
        "RATE_TABLE_NOT_IN_EFFECT",
        { field, rate_table_id: tableId },
      );
    }
  }

  /** SetAccountControls' fields as the routes' bodies name them: `spend_cap_micros` is `amount`, `limits[0].negative_limit_micros` is `negative_limit`. */
  const controlsField = (field: string) =>
    field === "spend_cap_micros" ? "amount" : field.startsWith("limits[0].") ? field.slice("limits[0].".length).replace(/_micros$/, "") : undefined;

  /** An action on the account row: its plan (entitlements ChangeAccountPlan), or its status, limits or spend cap (SetAccountControls). */
  const updateAccount = (
    request: FastifyRequest,
    name: string,
    change: { planId: string } | Partial<Pick<entitlementsV1.SetAccountControlsRequest, "status" | "spendCapMicros" | "limits">>,
  ) => {
    const { id } = request.params as { id: string };
    return action(request, {
      name,
      target: `account:${id}`,
      accountId: id,
      before: async () => accountView((await call(entitlements, entitlements.getAccount, { accountId: id })).account!),
      run: async (reason, key) =>
        "planId" in change
          ? requirePricedBy((await call(entitlements, entitlements.getPlan, { planId: change.planId, version: "0" })).plan!, "plan_id").then(() =>
              call(entitlements, entitlements.changeAccountPlan, { accountId: id, planId: change.planId, seats: 0, reason, idempotencyKey: key }),
            )
          : asBody(call(entitlements, entitlements.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({ accountId: id, ...change, reason, idempotencyKey: key })), controlsField),
      after: (r) => ({ account: accountView(r.account!) }),
    });
  };

  app.post("/api/accounts/:id/status", needs("operator"), async (request) => {
    const status = bodyOf(request, { status: "text" }).status;
    if (status !== "active" && status !== "suspended") throw new InvalidArgumentError("status", "must be active or suspended");
    const proto = status === "active" ? entitlementsV1.AccountStatus.ACCOUNT_STATUS_ACTIVE : entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED;
    return updateAccount(request, status === "active" ? "reactivate" : "suspend", { status: proto });
  });

  app.post("/api/accounts/:id/limits", needs("operator"), async (request) => {
    const body = bodyOf(request, { unit: "text", low_credit_limit: "amount", negative_limit: "amount", work_kind: "text", drafts_at_zero: "flag", stop_message: "text" });
    const unit = unitOf(body.unit, "");
    const limit = (field: string) => parseAmount(body[field], field, { zero: true });
    // Without work_kind: the unit's limits; with it: that kind of work's in the unit (guardrail, custom_script…).
    const workKind = String(body.work_kind ?? "");
    const kind = workKind ? commonV1.workKindFromJSON(WORK_KINDS.includes(workKind) ? `WORK_KIND_${workKind.toUpperCase()}` : "WORK_KIND_UNSPECIFIED") : commonV1.WorkKind.WORK_KIND_UNSPECIFIED;
    if (workKind && kind === commonV1.WorkKind.WORK_KIND_UNSPECIFIED) throw new InvalidArgumentError("work_kind", `must be one of ${WORK_KINDS.join(", ")}`);
    return updateAccount(request, "set_limits", {
      limits: [{
        unit, lowCreditLimitMicros: limit("low_credit_limit").toString(), negativeLimitMicros: limit("negative_limit").toString(),
        workKind: kind, draftsAtZero: flag(body.drafts_at_zero, "drafts_at_zero"), stopMessage: String(body.stop_message ?? ""),
      }],
    });
  });

  app.post("/api/accounts/:id/spend-cap", needs("operator"), async (request) => {
    const amount = bodyOf(request, { amount: "amount" }).amount;
    const micros = parseAmount(amount, "amount", { zero: true });
    return updateAccount(request, "set_spend_cap", { spendCapMicros: micros.toString() });
  });

  app.post("/api/accounts/:id/plan", needs("admin"), async (request) => {
    const planId = required(bodyOf(request, { plan_id: "text" }).plan_id, "plan_id");
    return updateAccount(request, "change_plan", { planId });
  });

  // A new version of a rate table (admin): its rates in the proto's JSON form (as /api/rate-tables answers them), effective now or from `effective_from`.
  app.post("/api/rate-tables", needs("admin"), async (request) => {
    const body = bodyOf(request, { table_id: "text", rates: "list", effective_from: "text" });
    const tableId = required(body.table_id, "table_id");
    if (!Array.isArray(body.rates) || body.rates.length === 0) throw new InvalidArgumentError("rates", "must be a non-empty list of rates (objects, as a rate table version lists them)");
    // Unset: pricing's now, so a retry with the same key is the same request.
    const effectiveFrom = optionalTime(body.effective_from, "effective_from");
    const rates = (body.rates as object[]).map((rate, i) => fromProtoJson("tollgate.pricing.v1.Rate", rate, pricingV1.Rate.decode, `rates[${i}]`));
    return action(request, {
      name: "publish_rate_table",
      target: `rate_table:${tableId}`,
      accountId: null,
      run: (reason, key) =>
        asBody(call(pricing, pricing.publishRateTable, { tableId, effectiveFrom, rates, actor: userOf(request).username, reason, idempotencyKey: key }), asDocument("rates")),
      after: (r) => ({ table: rateTableView(r.table!) }),
    });
  });

  // A new version of a plan (admin): its document in the proto's JSON form (as /api/plans answers it in `document`); the version and publish time are entitlements'.
  app.post("/api/plans", needs("admin"), async (request) => {
    const document = bodyOf(request, { plan: "object" }).plan;
    if (document === null || typeof document !== "object" || Array.isArray(document)) throw new InvalidArgumentError("plan", "must be a plan document (an object, as a plan version shows it)");
    const { version: _version, publishedAt: _publishedAt, published_at: _published, ...rules } = document as Record<string, unknown>;
    const plan = fromProtoJson("tollgate.entitlements.v1.Plan", rules, entitlementsV1.Plan.decode, "plan");
    if (!plan.planId) throw new InvalidArgumentError("plan.planId", "is required");
    return action(request, {
      name: "publish_plan",
      target: `plan:${plan.planId}`,
      accountId: null,
      run: async (reason, key) => {
        await requirePricedBy(plan, "plan.rateTableId");
        return asBody(call(entitlements, entitlements.publishPlan, { plan, actor: userOf(request).username, reason, idempotencyKey: key }), asDocument("plan"));
      },
      after: (r) => ({ plan: planView(r.plan!) }),
    });
  });

  app.get("/api/accounts/:id/preferences", async (request) => {
    const { id } = request.params as { id: string };
    return preferencesView((await call(notifications, notifications.getPreferences, { accountId: id })).preferences!);
  });

  // Who gets the account's alert emails (none: the account's admins). Its webhooks and per-rule channels stay as they are.
  app.post("/api/accounts/:id/preferences", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    const recipients = bodyOf(request, { email_recipients: "list" }).email_recipients;
    if (!Array.isArray(recipients)) throw new InvalidArgumentError("email_recipients", "is required (an empty list sends to the account's admins)");
    recipients.forEach((email, i) => {
      if (typeof email !== "string") throw new InvalidArgumentError(`email_recipients[${i}]`, "must be a string");
    });
    // Read once, by `before` (which the action runs first): the audit's before, and what is sent back below.
    let read: notificationsV1.Preferences | undefined;
    return action(request, {
      name: "set_email_recipients",
      target: `account:${id}`,
      accountId: id,
      before: async () => preferencesView((read = (await call(notifications, notifications.getPreferences, { accountId: id })).preferences!)),
      // Only the recipients: the service leaves the webhooks and channels as they are, in the same statement. They are
      // sent too, as read, for a notifications service from before update_fields, which replaces the whole preferences.
      run: (_reason, key) =>
        asBody(
          call(notifications, notifications.setPreferences, {
            preferences: { ...read!, emailRecipients: (recipients as string[]).map((email) => email.trim()) },
            updateFields: ["email_recipients"],
            idempotencyKey: key,
          }),
          // The service names the field inside its request (preferences.email_recipients[i]); this route's body has it at the top.
          (field) => field.replace(/^preferences\./, ""),
        ),
      after: (r) => ({ preferences: preferencesView(r.preferences!) }),
    });
  });

  app.post("/api/notifications/:id/resend", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    return action(request, {
      name: "resend_notification",
      target: `notification:${id}`,
      run: (reason, key) => call(notifications, notifications.resendNotification, { notificationId: id, actor: userOf(request).username, reason, idempotencyKey: key }),
      // After run: the answer's type is inferred from it.
      accountId: (r) => r.notification!.accountId,
      after: (r) => ({ notification: notificationView(r.notification!) }),
    });
  });

  app.post("/api/banners/:id/dismiss", needs("operator"), async (request) => {
    const { id } = request.params as { id: string };
    return action(request, {
      name: "dismiss_banner",
      target: `banner:${id}`,
      run: (_reason, key) => call(notifications, notifications.dismissBanner, { bannerId: id, accountId: "", actor: userOf(request).username, idempotencyKey: key }),
      // After run: the answer's type is inferred from it.
      accountId: (r) => r.banner!.accountId,
      after: (r) => ({ banner: bannerView(r.banner!) }),
    });
  });
}

/** Two lists, each newest first in its own order, merged by time head to head: neither list's order changes. */
function newestFirst<A extends { at: Date }, B extends { at: Date }>(a: A[], b: B[]): (A | B)[] {
  const merged: (A | B)[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.at.getTime() >= b[j]!.at.getTime())) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  return merged;
}
