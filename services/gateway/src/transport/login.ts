import { createHash, randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { base64url, SignJWT } from "jose";
import { InvalidArgumentError, UnauthenticatedError, UnavailableError } from "@tollgate/errors";
import { log } from "@tollgate/telemetry";
import type { Role, UserDirectory } from "../domain/access.js";
import type { RevokedTokens } from "../data/revoked-tokens.js";
import { sendHttpError, tooManyRequests } from "./http-errors.js";

/** Sign-in attempts allowed per user name and per client address within one window. */
export interface LoginLimits {
  perUser: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perUser: 20, perAddress: 100, windowMs: 15 * 60_000 };

/**
 * Who issues a console token and for what: the gateway verifies both, so a
 * token signed with the same secret for anything else is not a console sign-in.
 */
export const CONSOLE_TOKEN = { issuer: "tollgate-gateway", audience: "tollgate-console" } as const;

/** Who a request's console token signed in, and the token: its id (`tokenIdOf`) and `exp` (epoch seconds). */
export interface SignedIn {
  username: string;
  role: Role;
  tokenId: string;
  expiresAt: number;
}

/**
 * The id a token is signed out by: its `jti` (a sign-in's token carries one), else the SHA-256 of its canonical spelling (a
 * back office's token, or one signed in before tokens carried one), which no `jti` of ours takes the form of. The signature
 * covers the header and payload text as sent, but not the signature's own spelling: padding, or set unused bits in its last
 * character, decode to the same bytes and verify, so the signature is re-encoded from those bytes (as the verifier decoded
 * them) and every spelling of a token has one id.
 */
export function tokenIdOf(token: string, jti: unknown): string {
  if (typeof jti === "string") return jti;
  const signed = token.slice(0, token.lastIndexOf("."));
  const signature = base64url.encode(base64url.decode(token.slice(signed.length + 1)));
  return `sha256:${createHash("sha256").update(`${signed}.${signature}`).digest("base64url")}`;
}

/** When the database cannot answer a question of sign-in (attempts, a signed-out token), no one gets in, and the answer says so (503, logged). */
export function signInUnavailable(error: unknown): never {
  log().error({ err: error }, "sign-in could not be checked");
  throw new UnavailableError("sign-in is unavailable for a moment: try again shortly", "LOGIN_UNAVAILABLE");
}

/** The sign-in body's user name and password: each must be text (an empty one fails like a wrong password). */
function credentialsOf(body: unknown): { username: string; password: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new InvalidArgumentError("body", 'must be an object with "username" and "password"');
  const fields = body as Record<string, unknown>;
  for (const field of ["username", "password"] as const) {
    if (typeof fields[field] !== "string") throw new InvalidArgumentError(field, fields[field] === undefined ? "is required" : "must be text");
  }
  return { username: fields.username as string, password: fields.password as string };
}

/** The user name a sign-in counts against: the handler has checked the body before any counting. */
const usernameOf = (request: FastifyRequest) => (request.body as { username: string }).username;

/** A sign-in body's bound: a user name and password fit many times over, and the limiter's counters stay small. */
const LOGIN_BODY_LIMIT = 4 * 1024;

/**
 * `POST /api/login`: every attempt counts against the user name and against
 * the client's address (`@fastify/rate-limit`, counted before the password
 * is checked so concurrent guesses cannot slip past the limit); past either
 * limit the answer is 429 with `Retry-After`, whatever the password. A user
 * name is counted by its hash, so a long one costs the counters no more.
 */
export function registerLogin(app: FastifyInstance, users: UserDirectory, key: Uint8Array, options: { limits: LoginLimits; tokenTtl: string }): void {
  const { limits } = options;
  const checks = [
    app.createRateLimit({ max: limits.perAddress, timeWindow: limits.windowMs }),
    app.createRateLimit({
      max: limits.perUser, timeWindow: limits.windowMs,
      keyGenerator: (request) => `user:${createHash("sha256").update(usernameOf(request)).digest("base64url")}`,
    }),
  ];

  app.post("/api/login", { bodyLimit: LOGIN_BODY_LIMIT }, async (request, reply) => {
    // A malformed body tries no password, so it is refused without counting.
    const { username, password } = credentialsOf(request.body);
    for (const check of checks) {
      // The counters are in the database: when it cannot count, no one signs in.
      const limit = await check(request).catch(signInUnavailable);
      if (!limit.isAllowed && limit.isExceeded) {
        return sendHttpError(reply, tooManyRequests(limit.ttlInSeconds, "LOGIN_RATE_LIMITED", `too many sign-in attempts; try again in ${limit.ttlInSeconds} s`));
      }
    }
    const user = users.verify(username, password);
    // A user's name tried goes with the refusal to the audit log (so guessing at `admin` is told from a typo at `vera`);
    // anything else typed there is not kept (a password typed in the wrong box would be).
    if (!user) throw new UnauthenticatedError("wrong user name or password", "LOGIN_FAILED", users.knows(username) ? { username } : { username: "" });
    const token = await new SignJWT({ role: user.role, ses: users.stamp(user.username, key)! })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.username)
      .setIssuer(CONSOLE_TOKEN.issuer)
      .setAudience(CONSOLE_TOKEN.audience)
      .setIssuedAt()
      .setExpirationTime(options.tokenTtl)
      // Names the token, so signing out can revoke it (and only it).
      .setJti(randomUUID())
      .sign(key);
    return { token, user };
  });
}

/**
 * `POST /api/logout`: the request's own token stops working on every
 * gateway (204), while the user's other sign-ins go on.
 */
export function registerLogout(app: FastifyInstance, revoked: RevokedTokens): void {
  app.post("/api/logout", async (request, reply) => {
    const { tokenId, expiresAt } = (request as FastifyRequest & { signedIn: SignedIn }).signedIn;
    await revoked.revoke(tokenId, expiresAt).catch(signInUnavailable);
    return reply.status(204).send();
  });
}
