import { describe, expect, it } from "vitest";
import { tollgateDataProvider, RESOURCES } from "./data-provider";
import type { HttpClient, HttpRequest } from "./http";

/** A fake gateway list: rows a0..a(n-1), `size` per page, tokens "<release.prefix><offset>" ("t" unless changed). */
function fakeGateway(total: number, release = { prefix: "t" }) {
  const calls: { url: URL; request: HttpRequest }[] = [];
  const httpClient: HttpClient = async (raw, request) => {
    const url = new URL(raw);
    calls.push({ url, request });
    if (url.pathname === "/api/accounts") {
      const size = Number(url.searchParams.get("page_size"));
      const token = url.searchParams.get("page_token") ?? "";
      if (token && !new RegExp(`^${release.prefix}\\d+$`).test(token)) return { status: 400, json: { error: { status: 400, code: "INVALID_ARGUMENT", message: "bad page_token", field: "page_token" } } };
      const offset = token ? Number(token.slice(release.prefix.length)) : 0;
      const data = Array.from({ length: Math.max(0, Math.min(size, total - offset)) }, (_, i) => ({ id: `a${offset + i}`, name: `Account ${offset + i}` }));
      const next = offset + size < total ? `${release.prefix}${offset + size}` : "";
      return { status: 200, json: { data, next_page_token: next } };
    }
    if (url.pathname === "/api/plans") {
      return { status: 200, json: { data: [{ id: 1, plan_id: "free", version: 1 }, { id: 1, plan_id: "pro", version: 1 }], next_page_token: "" } };
    }
    if (url.pathname.startsWith("/api/accounts/") && url.pathname.endsWith("/grants")) {
      return { status: 403, json: { error: { status: 403, code: "PERMISSION_DENIED", message: "operator role required" } } };
    }
    return { status: 404, json: { error: { status: 404, code: "NOT_FOUND", message: "not found" } } };
  };
  return { calls, httpClient };
}

const list = (page: number, perPage: number, filter: Record<string, unknown> = {}) => ({
  pagination: { page, perPage },
  sort: { field: "id", order: "ASC" as const },
  filter,
});

describe("tollgateDataProvider page tokens", () => {
  it("remembers the token of each page so Next and Previous work", async () => {
    const gw = fakeGateway(5);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test/", httpClient: gw.httpClient, getToken: () => "tok" });

    const p1 = await dp.getList(RESOURCES.accounts, list(1, 2));
    expect(p1.data.map((r) => r.id)).toEqual(["a0", "a1"]);
    expect(p1.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false });
    expect(gw.calls[0]!.url.searchParams.get("page_token")).toBeNull();
    expect(gw.calls[0]!.url.searchParams.get("page_size")).toBe("2");
    expect(gw.calls[0]!.request.headers?.Authorization).toBe("Bearer tok");

    const p2 = await dp.getList(RESOURCES.accounts, list(2, 2));
    expect(gw.calls[1]!.url.searchParams.get("page_token")).toBe("t2");
    expect(p2.data.map((r) => r.id)).toEqual(["a2", "a3"]);
    expect(p2.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true });

    const p3 = await dp.getList(RESOURCES.accounts, list(3, 2));
    expect(gw.calls[2]!.url.searchParams.get("page_token")).toBe("t4");
    expect(p3.data.map((r) => r.id)).toEqual(["a4"]);
    expect(p3.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true });
    expect(p3.total).toBe(5);
    expect(p2.total).toBeUndefined();

    // Previous: page 2 again uses the remembered token, one call only.
    const before = gw.calls.length;
    const back = await dp.getList(RESOURCES.accounts, list(2, 2));
    expect(gw.calls.length).toBe(before + 1);
    expect(gw.calls.at(-1)!.url.searchParams.get("page_token")).toBe("t2");
    expect(back.data.map((r) => r.id)).toEqual(["a2", "a3"]);
  });

  it("keeps tokens apart per filter and page size", async () => {
    const gw = fakeGateway(6);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => null });
    await dp.getList(RESOURCES.accounts, list(1, 2, { q: "acme" }));
    await dp.getList(RESOURCES.accounts, list(1, 3));
    await dp.getList(RESOURCES.accounts, list(2, 2, { q: "acme" }));
    const last = gw.calls.at(-1)!;
    expect(last.url.searchParams.get("q")).toBe("acme");
    expect(last.url.searchParams.get("page_token")).toBe("t2");
    expect(gw.calls[0]!.request.headers?.Authorization).toBeUndefined();
  });

  it("reaches a page again from the first when the gateway no longer takes the tokens it remembers", async () => {
    const release = { prefix: "t" };
    const gw = fakeGateway(7, release);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => "tok" });
    await dp.getList(RESOURCES.accounts, list(1, 2));
    await dp.getList(RESOURCES.accounts, list(2, 2));
    release.prefix = "u"; // an upgraded gateway: tokens of the release before are refused
    gw.calls.length = 0;
    const p3 = await dp.getList(RESOURCES.accounts, list(3, 2));
    expect(gw.calls.map((c) => c.url.searchParams.get("page_token"))).toEqual(["t4", null, "u2", "u4"]);
    expect(p3.data.map((r) => r.id)).toEqual(["a4", "a5"]);
    // Refused again after starting over (not a remembered token's fault): the error reaches the page, after one more try.
    release.prefix = "(?!)"; // a regular expression that matches nothing: a gateway that refuses even its own tokens
    gw.calls.length = 0;
    await expect(dp.getList(RESOURCES.accounts, list(4, 2))).rejects.toMatchObject({ status: 400 });
    expect(gw.calls.map((c) => c.url.searchParams.get("page_token"))).toEqual(["u6", null, "(?!)2"]);
  });

  it("walks forward to a page whose token it never saw", async () => {
    const gw = fakeGateway(7);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => "tok" });
    const p3 = await dp.getList(RESOURCES.accounts, list(3, 2));
    expect(gw.calls.map((c) => c.url.searchParams.get("page_token"))).toEqual([null, "t2", "t4"]);
    expect(p3.data.map((r) => r.id)).toEqual(["a4", "a5"]);
    // Past the end: an empty page, no next.
    const p9 = await dp.getList(RESOURCES.accounts, list(9, 2));
    expect(p9.data).toEqual([]);
    expect(p9.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true });
    expect(p9.total).toBe(7);
  });

  it("does not call the API for entries without an account", async () => {
    const gw = fakeGateway(1);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => "tok" });
    const result = await dp.getList(RESOURCES.entries, list(1, 25));
    expect(result.data).toEqual([]);
    expect(gw.calls).toHaveLength(0);
  });

  it("gives plan versions unique ids and lists all versions", async () => {
    const gw = fakeGateway(0);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => "tok" });
    const plans = await dp.getList(RESOURCES.plans, list(1, 50));
    expect(plans.data.map((p) => p.id)).toEqual(["free@1", "pro@1"]);
    expect(gw.calls[0]!.url.searchParams.get("all_versions")).toBe("true");
    const one = await dp.getOne(RESOURCES.plans, { id: "pro@1" });
    expect(one.data.plan_id).toBe("pro");
  });

  it("lists runs and deployments from /api/work with the state filter", async () => {
    const calls: string[] = [];
    const httpClient: HttpClient = async (raw) => {
      calls.push(raw);
      return { status: 200, json: { data: [{ id: "run-1", kind: "run", account_id: "acct-1", state: "running", charged_micros: "2500000", active_seconds: 3725 }], next_page_token: "" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    const result = await dp.getList(RESOURCES.work, list(1, 50, { state: "running", kind: "" }));
    expect(RESOURCES.work).toBe("tollgate-work");
    expect(calls).toEqual(["http://gw.test/api/work?state=running&page_size=50"]);
    expect(result.data.map((r) => r.id)).toEqual(["run-1"]);
    expect(result.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false });
    expect(result.total).toBe(1);
  });

  it("turns an error answer into an HttpError with the API's message and field", async () => {
    const gw = fakeGateway(1);
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient: gw.httpClient, getToken: () => "tok" });
    await expect(dp.grantCredits(RESOURCES.accounts, { accountId: "a0", pool_kind: "bonus", unit: "credits", amount: "5", reason: "r" })).rejects.toMatchObject({
      status: 403,
      message: "operator role required",
      body: { code: "PERMISSION_DENIED" },
    });
    const post = gw.calls.at(-1)!;
    expect(post.request.method).toBe("POST");
    expect(JSON.parse(post.request.body!)).toEqual({ pool_kind: "bonus", unit: "credits", amount: "5", reason: "r" });
  });

  it("posts a spend cap as { amount, reason } to the account's spend-cap route", async () => {
    const calls: { url: string; request: HttpRequest }[] = [];
    const httpClient: HttpClient = async (url, request) => {
      calls.push({ url, request });
      return { status: 200, json: { account: { id: "byom co", billing_mode: "byom_usd", spend_cap_micros: "250000000" }, audit_id: "aud-1" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    const answer = await dp.setSpendCap(RESOURCES.accounts, { accountId: "byom co", amount: "250", reason: "raise for launch" });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe("http://gw.test/api/accounts/byom%20co/spend-cap");
    expect(calls[0]!.request.method).toBe("POST");
    expect(calls[0]!.request.headers?.["Content-Type"]).toBe("application/json");
    expect(JSON.parse(calls[0]!.request.body!)).toEqual({ amount: "250", reason: "raise for launch" });
    expect(answer).toEqual({ account: { id: "byom co", billing_mode: "byom_usd", spend_cap_micros: "250000000" }, audit_id: "aud-1" });
  });

  it("sends an action's idempotencyKey as the Idempotency-Key header, never in the body (the gateway refuses keys it does not take)", async () => {
    const calls: { url: string; request: HttpRequest }[] = [];
    const httpClient: HttpClient = async (url, request) => {
      calls.push({ url, request });
      return { status: 200, json: { audit_id: "aud-1" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    await dp.dismissBanner(RESOURCES.accounts, { id: "b-1", reason: "customer asked", idempotencyKey: "ui-1" });
    await dp.deleteBudget(RESOURCES.accounts, { accountId: "acme", budgetId: "bud-1", reason: "done", idempotencyKey: "ui-2" });
    await dp.resendNotification(RESOURCES.notifications, { id: "n-1", reason: "bounced" });
    expect(calls.map((c) => c.request.headers?.["Idempotency-Key"])).toEqual(["ui-1", "ui-2", undefined]);
    expect(calls.map((c) => JSON.parse(c.request.body!))).toEqual([{ reason: "customer asked" }, { reason: "done" }, { reason: "bounced" }]);
  });

  it("posts limits as { unit, low_credit_limit, negative_limit, reason } to the account's limits route", async () => {
    const calls: { url: string; request: HttpRequest }[] = [];
    const httpClient: HttpClient = async (url, request) => {
      calls.push({ url, request });
      return { status: 200, json: { account: { id: "acme" }, audit_id: "aud-2" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    await dp.setAccountLimits(RESOURCES.accounts, { accountId: "acme", unit: "credits", low_credit_limit: "10", negative_limit: "0", reason: "r" });
    expect(calls[0]!.url).toBe("http://gw.test/api/accounts/acme/limits");
    expect(calls[0]!.request.method).toBe("POST");
    expect(JSON.parse(calls[0]!.request.body!)).toEqual({ unit: "credits", low_credit_limit: "10", negative_limit: "0", reason: "r" });
  });

  it("answers an empty list with a total of zero (so no pager shows), also the ledger asked without an account id", async () => {
    const calls: string[] = [];
    const httpClient: HttpClient = async (raw) => {
      calls.push(raw);
      return { status: 200, json: { data: [], next_page_token: "" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    const ledger = await dp.getList(RESOURCES.entries, list(1, 25));
    expect(ledger).toMatchObject({ data: [], total: 0 });
    expect(calls).toEqual([]);
    const holds = await dp.getList(RESOURCES.holds, list(1, 50, { account_id: "nobody" }));
    expect(holds).toMatchObject({ data: [], total: 0 });
    expect(holds.meta).toBeUndefined();
  });

  it("sends attribution filters as attr.<dimension>, as the API takes them", async () => {
    const urls: URL[] = [];
    const httpClient: HttpClient = async (raw) => {
      urls.push(new URL(raw));
      return { status: 200, json: { data: [], next_page_token: "" } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    await dp.getList(RESOURCES.entries, list(1, 25, { account_id: "acme", attr: { model: "gpt-4o", workspace_id: " ws-1 ", agent_id: "" } }));
    const params = Object.fromEntries(urls[0]!.searchParams);
    expect(params).toMatchObject({ account_id: "acme", "attr.model": "gpt-4o", "attr.workspace_id": "ws-1" });
    expect(Object.keys(params).filter((k) => k.startsWith("attr"))).toEqual(["attr.model", "attr.workspace_id"]);
  });

  it("answers a list filtered by an account that does not exist as empty, naming the account in its meta (the empty state says so)", async () => {
    const httpClient: HttpClient = async (raw) => {
      const account = new URL(raw).searchParams.get("account_id");
      return account === "acme"
        ? { status: 200, json: { data: [], next_page_token: "" } }
        : { status: 404, json: { error: { status: 404, code: "NOT_FOUND", reason: "ACCOUNT_NOT_FOUND", message: `no account ${account}` } } };
    };
    const dp = tollgateDataProvider({ apiUrl: "http://gw.test", httpClient, getToken: () => "tok" });
    const missing = await dp.getList(RESOURCES.entries, list(1, 25, { account_id: "acmee" }));
    expect(missing).toMatchObject({ data: [], total: 0, meta: { account_not_found: "acmee" } });
    const known = await dp.getList(RESOURCES.entries, list(1, 25, { account_id: "acme" }));
    expect(known).toMatchObject({ data: [], total: 0 });
    expect(known.meta).toBeUndefined();
  });
});
