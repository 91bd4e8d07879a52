import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tollgateAuthProvider } from "./auth-provider";
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

  const provider = (answer: () => Promise<{ status: number }>) => {
    const calls: { url: string; request: HttpRequest }[] = [];
    const httpClient: HttpClient = async (url, request) => {
      calls.push({ url, request });
      return { ...(await answer()), json: undefined };
    };
    return { calls, auth: tollgateAuthProvider({ apiUrl: "http://gw.test/", httpClient }) };
  };

  it("forgets the token and has the gateway revoke it", async () => {
    const token = tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 });
    saved.set(TOKEN_KEY, token);
    saved.set(USER_KEY, JSON.stringify({ username: "ada", role: "admin" }));
    const { calls, auth } = provider(async () => ({ status: 204 }));
    await auth.logout({});
    expect(calls).toEqual([{ url: "http://gw.test/api/logout", request: { method: "POST", headers: { Authorization: `Bearer ${token}` } } }]);
    expect([...saved.keys()]).toEqual([]);
  });

  it("forgets the token all the same when the gateway cannot be reached, and does not ask about an expired one", async () => {
    saved.set(TOKEN_KEY, tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }));
    const offline = provider(() => Promise.reject(new TypeError("fetch failed")));
    await offline.auth.logout({});
    expect(offline.calls).toHaveLength(1);
    expect(saved.has(TOKEN_KEY)).toBe(false);

    saved.set(TOKEN_KEY, tokenWith({ sub: "ada", role: "admin", exp: Math.floor(Date.now() / 1000) - 60 }));
    const expired = provider(async () => ({ status: 204 }));
    await expired.auth.logout({});
    expect(expired.calls).toEqual([]);
    expect(saved.has(TOKEN_KEY)).toBe(false);
  });
});
