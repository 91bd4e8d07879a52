import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SIGNOUT_PENDING_KEY, tollgateAuthProvider } from "./auth-provider";
import { TOKEN_KEY, USER_KEY, type HttpClient, type HttpRequest } from "./http";

/** An unsigned token with these claims: the browser only reads them. */
const tokenWith = (claims: Record<string, unknown>) => `e30.${btoa(JSON.stringify(claims)).replace(/=+$/, "")}.sig`;

describe("tollgateAuthProvider logout", () => {
  let saved: Map<string, string>;
  beforeEach(() => {
    saved = new Map();
    const storage = { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => void saved.set(k, v), removeItem: (k: string) => void saved.delete(k) };
    Object.defineProperty(globalThis, "localStorage", { value: storage, configurable: true });
  });
  afterEach(() => {
    Reflect.deleteProperty(globalThis, "localStorage");
  });

  const provider = (answer: (url: string, request: HttpRequest) => Promise<{ status: number; json?: unknown }>) => {
    const calls: { url: string; request: HttpRequest }[] = [];
    const httpClient: HttpClient = async (url, request) => {
      calls.push({ url, request });
      return { json: undefined, ...(await answer(url, request)) };
    };
    return { calls, auth: tollgateAuthProvider({ apiUrl: "http://gw.test/", httpClient }) };
  };

  it("forgets the token and has the gateway revoke it", async () => {
    const token = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    saved.set(TOKEN_KEY, token);
    saved.set(USER_KEY, JSON.stringify({ username: "ada", role: "admin" }));
    const { calls, auth } = provider(async () => ({ status: 204 }));
    await auth.logout({});
    expect(calls).toEqual([{ url: "http://gw.test/api/logout", request: { method: "POST", headers: { Authorization: `Bearer ${token}` }, signal: expect.any(AbortSignal) } }]);
    expect([...saved.keys()]).toEqual([]);
  });

  it("forgets the token all the same when the gateway cannot be reached, keeping it aside to revoke at the next sign-in", async () => {
    const lost = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    saved.set(TOKEN_KEY, lost);
    const offline = provider(() => Promise.reject(new TypeError("fetch failed")));
    await offline.auth.logout({});
    expect(offline.calls).toHaveLength(1);
    expect(saved.has(TOKEN_KEY)).toBe(false);
    expect(JSON.parse(saved.get(SIGNOUT_PENDING_KEY)!)).toEqual([lost]);

    // A 503 is no sign-out either, and a second one kept aside does not replace the first.
    const unavailable = provider(async () => ({ status: 503 }));
    const alsoLost = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600, jti: "second" });
    saved.set(TOKEN_KEY, alsoLost);
    await unavailable.auth.logout({});
    expect(JSON.parse(saved.get(SIGNOUT_PENDING_KEY)!)).toEqual([lost, alsoLost]);

    // The next sign-in revokes those kept aside and keeps one the gateway does not settle (a 503) for the one after.
    const fresh = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    const signIn = (answerLogout: (token: string) => number) =>
      provider(async (url, request) =>
        url.endsWith("/api/login") ? { status: 200, json: { token: fresh, user: { username: "ada", role: "admin" } } } : { status: answerLogout(request.headers!.Authorization!.slice("Bearer ".length)) },
      );
    const partly = signIn((token) => (token === alsoLost ? 503 : 204));
    await partly.auth.login({ username: "ada", password: "admin-pass" });
    expect(JSON.parse(saved.get(SIGNOUT_PENDING_KEY)!)).toEqual([alsoLost]);
    const back = signIn(() => 204);
    await back.auth.login({ username: "ada", password: "admin-pass" });
    expect(back.calls.map((c) => [c.url, c.request.headers])).toEqual([
      ["http://gw.test/api/login", expect.anything()],
      ["http://gw.test/api/logout", { Authorization: `Bearer ${alsoLost}` }],
    ]);
    expect(saved.has(SIGNOUT_PENDING_KEY)).toBe(false);
    expect(saved.get(TOKEN_KEY)).toBe(fresh);

    saved.set(TOKEN_KEY, tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) - 60 }));
    const expired = provider(async () => ({ status: 204 }));
    await expired.auth.logout({});
    expect(expired.calls).toEqual([]);
    expect(saved.has(TOKEN_KEY)).toBe(false);
  });

  it("keeps a sign-out another tab kept aside while the sign-in revoked the earlier ones", async () => {
    const lost = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600, jti: "lost" });
    const otherTab = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600, jti: "other-tab" });
    saved.set(SIGNOUT_PENDING_KEY, JSON.stringify([lost]));
    const fresh = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    const back = provider(async (url) => {
      if (url.endsWith("/api/login")) return { status: 200, json: { token: fresh } };
      // While this sign-out is on its way, another tab signs out offline and keeps its token aside.
      saved.set(SIGNOUT_PENDING_KEY, JSON.stringify([lost, otherTab]));
      return { status: 204 };
    });
    await back.auth.login({ username: "ada", password: "admin-pass" });
    expect(JSON.parse(saved.get(SIGNOUT_PENDING_KEY)!)).toEqual([otherTab]);
  });

  it("changes the list of sign-outs kept aside holding its Web Lock, where the browser has them", async () => {
    const held: string[] = [];
    let holding = false;
    const locks = {
      request: async (name: string, callback: () => unknown) => {
        held.push(name);
        holding = true;
        try {
          return await callback();
        } finally {
          holding = false;
        }
      },
    };
    const browser = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true });
    const writes: boolean[] = [];
    const setItem = localStorage.setItem;
    localStorage.setItem = (key: string, value: string) => {
      if (key === SIGNOUT_PENDING_KEY) writes.push(holding);
      setItem(key, value);
    };
    try {
      const lost = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600, jti: "locked" });
      saved.set(TOKEN_KEY, lost);
      await provider(async () => ({ status: 503 })).auth.logout({});
      expect([held, writes, JSON.parse(saved.get(SIGNOUT_PENDING_KEY)!)]).toEqual([[SIGNOUT_PENDING_KEY], [true], [lost]]);
      const fresh = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
      await provider(async (url) => (url.endsWith("/api/login") ? { status: 200, json: { token: fresh } } : { status: 204 })).auth.login({ username: "ada", password: "admin-pass" });
      expect([held, saved.has(SIGNOUT_PENDING_KEY)]).toEqual([[SIGNOUT_PENDING_KEY, SIGNOUT_PENDING_KEY], false]);
    } finally {
      if (browser) Object.defineProperty(globalThis, "navigator", browser);
      else Reflect.deleteProperty(globalThis, "navigator");
    }
  });

  it("revokes a sign-out kept aside by an earlier console (one token, not a list) at the next sign-in", async () => {
    const lost = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    saved.set(SIGNOUT_PENDING_KEY, lost);
    const fresh = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    const back = provider(async (url) => (url.endsWith("/api/login") ? { status: 200, json: { token: fresh } } : { status: 204 }));
    await back.auth.login({ username: "ada", password: "admin-pass" });
    expect(back.calls.map((c) => c.request.headers)).toEqual([expect.anything(), { Authorization: `Bearer ${lost}` }]);
    expect(saved.has(SIGNOUT_PENDING_KEY)).toBe(false);
  });
});
