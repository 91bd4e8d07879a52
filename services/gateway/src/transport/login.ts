import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { SignJWT } from "jose";
import { InvalidArgumentError, UnauthenticatedError, UnavailableError } from "@tollgate/errors";
import { log } from "@tollgate/telemetry";
import type { UserDirectory } from "../domain/access.js";
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
      // The counters are in the database: when it cannot count, no one signs in, and the answer says so (503, logged).
      const limit = await check(request).catch((error: unknown) => {
        log().error({ err: error }, "sign-in attempts could not be counted");
        throw new UnavailableError("sign-in is unavailable for a moment: try again shortly", "LOGIN_UNAVAILABLE");
      });
      if (!limit.isAllowed && limit.isExceeded) {
        return sendHttpError(reply, tooManyRequests(limit.ttlInSeconds, "LOGIN_RATE_LIMITED", `too many sign-in attempts; try again in ${limit.ttlInSeconds} s`));
      }
    }
    const user = users.verify(username, password);
    if (!user) throw new UnauthenticatedError("wrong user name or password", "LOGIN_FAILED");
    const token = await new SignJWT({ role: user.role, ses: users.stamp(user.username, key)! })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user.username)
      .setIssuer(CONSOLE_TOKEN.issuer)
      .setAudience(CONSOLE_TOKEN.audience)
      .setIssuedAt()
      .setExpirationTime(options.tokenTtl)
      .sign(key);
    return { token, user };
  });
}
