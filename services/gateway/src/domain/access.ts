import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError, PermissionDeniedError } from "@tollgate/errors";
import { BIDI_CONTROLS, characters } from "@tollgate/grpc-kit";

export type Role = "viewer" | "operator" | "admin";
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface User {
  username: string;
  role: Role;
}

export function isRole(value: unknown): value is Role {
  return value === "viewer" || value === "operator" || value === "admin";
}

/** Viewers read; operators also change credits, limits and notifications; admins also plans and prices. */
export function requireRole(user: User, needed: Role, action: string): void {
  if (RANK[user.role] < RANK[needed]) {
    throw new PermissionDeniedError(`${action} needs the ${needed} role; ${user.username} has the ${user.role} role`, "ROLE_REQUIRED", { role: needed });
  }
}

const MAX_REASON_LENGTH = 1024;
/** C0 controls but tab, line feed and carriage return, and DEL: PostgreSQL text cannot hold NUL, and none belongs in a reason. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * What a reader does not see: white space, format characters (zero-width
 * spaces and joiners, direction marks), the letters drawn blank (the Hangul
 * fillers, the blank Braille pattern) and the combining grapheme joiner.
 */
const INVISIBLE = /[\s\p{Cf}\u034f\u115f\u1160\u3164\uffa0\u2800]/gu;

export function requireReason(reason: unknown): string {
  // Three characters a reader sees, one of them at least not a combining mark (accents alone sit on nothing).
  const seen = typeof reason === "string" ? reason.replace(INVISIBLE, "") : "";
  if (typeof reason !== "string" || seen.length < 3 || !/\P{M}/u.test(seen)) throw new InvalidArgumentError("reason", "say why, in a few words");
  const text = reason.trim();
  // The services' bound; checked here too because some actions (a banner's dismissal) send no reason to a service.
  if (characters(text, MAX_REASON_LENGTH) > MAX_REASON_LENGTH) throw new InvalidArgumentError("reason", `must be at most ${MAX_REASON_LENGTH} characters`);
  if (CONTROL.test(text)) throw new InvalidArgumentError("reason", "must not contain control characters (line breaks and tabs are fine)");
  if (BIDI_CONTROLS.test(text)) throw new InvalidArgumentError("reason", "must not contain bidirectional embedding, override or isolate characters");
  return text;
}

/** The demo logins `npm start` asks for (`GATEWAY_DEMO_USERS=true`); never there otherwise. */
export const DEMO_USERS = "viewer:viewer:viewer,operator:operator:operator,admin:admin:admin";

interface ConfiguredUser extends User {
  passwordHash: Buffer;
}

const hash = (password: string) => createHash("sha256").update(password).digest();

/**
 * `name:password:role` entries, comma-separated: the name is what comes
 * before the first colon and the role what follows the last, so a password
 * may hold colons (not commas). A malformed entry is named by its place and
 * user, never with its password (the message reaches the logs).
 */
function parseUsers(spec: string): ConfiguredUser[] {
  return spec.split(",").map((e) => e.trim()).filter(Boolean).map((entry, i) => {
    const first = entry.indexOf(":");
    const last = entry.lastIndexOf(":");
    const username = first < 0 ? entry : entry.slice(0, first);
    const password = first < last ? entry.slice(first + 1, last) : "";
    const role = entry.slice(last + 1);
    if (!username || !password || !isRole(role)) throw new Error(`GATEWAY_USERS: entry ${i + 1} (user "${username}") is not name:password:viewer|operator|admin`);
    return { username, role, passwordHash: hash(password) };
  });
}

/** The demo logins added to configured users (`GATEWAY_DEMO_USERS=true`), but for a name configured already: its configured password stays. */
export function withDemoUsers(spec: string): string {
  const configured = new Set(parseUsers(spec).map((u) => u.username));
  return [spec, ...DEMO_USERS.split(",").filter((entry) => !configured.has(entry.split(":")[0]!))].filter(Boolean).join(",");
}

/** Users from configuration (`parseUsers`); a name given twice is refused, as which password counts would be a guess. */
export class UserDirectory {
  private readonly users = new Map<string, ConfiguredUser>();

  constructor(spec: string) {
    for (const user of parseUsers(spec)) {
      if (this.users.has(user.username)) throw new Error(`GATEWAY_USERS: user "${user.username}" is given twice`);
      this.users.set(user.username, user);
    }
  }

  /**
   * What a sign-in token carries of its user's configuration (its `ses`
   * claim): an HMAC, under the gateway's secret, of the name, role and
   * password. Once the user is gone, or their role or password changed, their
   * tokens no longer match it and are refused. Undefined for a name not here.
   */
  stamp(username: string, key: Uint8Array): string | undefined {
    const user = this.users.get(username);
    if (!user) return undefined;
    return createHmac("sha256", key).update(`${user.username}\0${user.role}\0`).update(user.passwordHash).digest("base64url");
  }

  /** Whether a name is a configured user's (a refused sign-in's audit names only such a one: what was typed may be a password). */
  knows(username: string): boolean {
    return this.users.has(username);
  }

  verify(username: string, password: string): User | undefined {
    const user = this.users.get(username);
    const candidate = hash(password);
    // Compare even for unknown users so timing does not reveal who exists.
    const ok = timingSafeEqual(candidate, user?.passwordHash ?? hash(`\0${password}`)) && user !== undefined;
    return ok ? { username: user.username, role: user.role } : undefined;
  }
}
