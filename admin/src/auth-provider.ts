import type { AuthProvider } from "react-admin";
import type { Role } from "./api-types";
import { fetchHttpClient, TOKEN_KEY, USER_KEY, type HttpClient } from "./http";

export interface TollgateAuthProviderOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8080`. */
  apiUrl: string;
  /** Replaces `fetch` for the login and logout calls. */
  httpClient?: HttpClient;
}

interface StoredUser {
  username: string;
  role: Role | string;
}

const storage = (): Storage | undefined => {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
};

/** The claims of a JWT, unverified (the gateway verifies; the browser only reads `sub`, `role`, `exp`). */
export function readTokenClaims(token: string): { sub?: string; role?: string; exp?: number } {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    return JSON.parse(json) as { sub?: string; role?: string; exp?: number };
  } catch {
    return {};
  }
}

function currentUser(): StoredUser | null {
  const store = storage();
  const token = store?.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const saved = JSON.parse(store?.getItem(USER_KEY) ?? "null") as StoredUser | null;
    if (saved?.username && saved.role) return saved;
  } catch {
    /* fall through to the token's own claims */
  }
  // A token a host back office minted itself: read its claims.
  const claims = readTokenClaims(token);
  return claims.sub && claims.role ? { username: claims.sub, role: claims.role } : null;
}

/**
 * Signed-out tokens the gateway could not be told of (offline, a 5xx), as a
 * JSON list: kept here and revoked at the next sign-in, so a copy of one does
 * not outlive its sign-out by more than that.
 */
export const SIGNOUT_PENDING_KEY = "tollgate.signout-pending";
/** At most this many are kept (the oldest dropped first); each lasts 12 hours at most anyway. */
const MAX_PENDING_SIGNOUTS = 20;

function pendingSignOuts(): string[] {
  const stored = storage()?.getItem(SIGNOUT_PENDING_KEY);
  if (!stored) return [];
  try {
    const tokens: unknown = JSON.parse(stored);
    return Array.isArray(tokens) ? tokens.filter((token): token is string => typeof token === "string") : [];
  } catch {
    return [stored]; // one token, as an earlier console kept it
  }
}

/**
 * Changes the list as `change` makes it from what is stored now. Tabs of the
 * console share it, and a read and a write of `localStorage` are not one step
 * across tabs: the change holds the list's Web Lock (one tab at a time), where
 * the browser has Web Locks.
 */
async function changePendingSignOuts(change: (tokens: string[]) => string[]): Promise<void> {
  const apply = () => {
    const tokens = change(pendingSignOuts());
    if (tokens.length === 0) storage()?.removeItem(SIGNOUT_PENDING_KEY);
    else storage()?.setItem(SIGNOUT_PENDING_KEY, JSON.stringify(tokens.slice(-MAX_PENDING_SIGNOUTS)));
  };
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks) await locks.request(SIGNOUT_PENDING_KEY, apply);
  else apply();
}

/** Whether a sign-out is waiting to be made (the sign-in page says so). */
export const signOutPending = (): boolean => pendingSignOuts().length > 0;

function tokenExpired(token = storage()?.getItem(TOKEN_KEY)): boolean {
  if (!token) return true;
  const { exp } = readTokenClaims(token);
  return typeof exp === "number" && exp * 1000 <= Date.now();
}

function forget() {
  storage()?.removeItem(TOKEN_KEY);
  storage()?.removeItem(USER_KEY);
}

/**
 * react-admin AuthProvider for the console gateway: `POST /api/login` stores
 * the token in `localStorage['tollgate.token']`, logout forgets it and has the
 * gateway revoke it (`POST /api/logout`); `getPermissions` answers the role
 * (`viewer`, `operator`, `admin`); a 401 logs out, a 403 does not.
 */
export function tollgateAuthProvider(options: TollgateAuthProviderOptions): AuthProvider {
  const base = options.apiUrl.replace(/\/+$/, "");
  const http = options.httpClient ?? fetchHttpClient;
  /** Whether the gateway has settled the token: revoked it (204), or it needs none (401: not valid anyway; 409: not revocable, as a gateway of an earlier release answered a token without a jti). */
  const revoke = async (token: string) => {
    // Bounded: react-admin waits for logout, and a gateway that does not answer must not hold the user on the page.
    const answer = await http(`${base}/api/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    return answer !== undefined && [204, 401, 409].includes(answer.status);
  };
  return {
    async login({ username, password }: { username: string; password: string }) {
      const response = await http(`${base}/api/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username, password }),
      });
      const body = response.json as { token?: string; user?: StoredUser; error?: { message?: string } } | undefined;
      if (response.status === 401) throw new Error("Wrong username or password");
      if (response.status !== 200 || !body?.token) throw new Error(body?.error?.message ?? `Login failed (${response.status})`);
      storage()?.setItem(TOKEN_KEY, body.token);
      storage()?.setItem(USER_KEY, JSON.stringify(body.user ?? { username, role: readTokenClaims(body.token).role ?? "viewer" }));
      // The gateway is reachable again: the sign-outs it missed are made now; any it still does not settle are kept.
      const pending = pendingSignOuts();
      if (pending.length > 0) {
        const settled = await Promise.all(pending.map(async (token) => tokenExpired(token) || (await revoke(token))));
        const done = new Set(pending.filter((_, i) => settled[i]));
        // Read again: another tab may have kept a sign-out aside while these were revoked.
        await changePendingSignOuts((tokens) => tokens.filter((token) => !done.has(token)));
      }
    },
    async logout() {
      const token = storage()?.getItem(TOKEN_KEY);
      forget();
      // The gateway revokes the token, so a copy of it (another tab, a stolen one) stops working too. When it cannot be
      // reached, the token is kept aside (the login page says so) and revoked at the next sign-in.
      if (token && !tokenExpired(token) && !(await revoke(token))) await changePendingSignOuts((tokens) => [...tokens, token]);
    },
    async checkAuth() {
      if (tokenExpired()) {
        forget();
        throw new Error("Please sign in");
      }
    },
    async checkError(error: { status?: number }) {
      if (error?.status === 401) {
        forget();
        throw new Error("Your session has ended; please sign in again");
      }
    },
    async getPermissions() {
      return currentUser()?.role ?? null;
    },
    async getIdentity() {
      const user = currentUser();
      if (!user) throw new Error("Not signed in");
      return { id: user.username, fullName: `${user.username} (${user.role})` };
    },
  };
}
