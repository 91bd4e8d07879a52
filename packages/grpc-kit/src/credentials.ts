import { createLocalJWKSet, decodeJwt, errors as joseErrors, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JSONWebKeySet, type JWK } from "jose";
import { UnauthenticatedError } from "@tollgate/errors";
import { ROLES, type Role } from "./access.js";
import { isActorName, MAX_ACTOR_LENGTH } from "./validation.js";

/** Who is calling, from a verified credential. */
export interface Principal {
  /** The credential's subject (`sub`). */
  name: string;
  issuer: string;
  roles: readonly Role[];
  /** The accounts the credential is limited to; undefined: every account. */
  accounts?: readonly string[];
  /** The person a service acts for (`x-tollgate-on-behalf-of`), accepted only from a `service` principal. */
  onBehalfOf?: string;
}

export const AUDIENCE = "tollgate";
const ALGORITHMS = ["ES256", "EdDSA"];

/** Trusted issuers, each with its public keys: `{ "<iss>": { "keys": [JWK, …] } }`. */
export type IssuerKeys = Record<string, JSONWebKeySet>;

export interface TokenVerifier {
  /** The principal of a bearer token; UNAUTHENTICATED when the token is missing, expired, unsigned by a trusted issuer or lacks a claim. */
  verify(token: string): Promise<Principal>;
  /** Whether `token` was verified before and has not expired (no signature check). */
  knows?(token: string): boolean;
}

const CACHE_LIMIT = 10_000;

/** How far ahead a credential's expiry may be, by default (AUTH_MAX_TOKEN_DAYS). */
export const DEFAULT_MAX_TOKEN_DAYS = 31;

/** What was wrong with a credential jose refused, in plain words (jose's own name its internals: `"exp" claim timestamp check failed`). */
function whyRefused(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) {
    const exp = error.payload.exp;
    // Said only when a Date holds it (a signed but absurd exp is an invalid Date, whose toISOString throws).
    const at = typeof exp === "number" ? new Date(exp * 1000) : undefined;
    return `it expired${at && !Number.isNaN(at.getTime()) ? ` at ${at.toISOString()}` : ""}; get a new one`;
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return `it is not for Tollgate's services (aud must be "${AUDIENCE}")`;
    if (error.claim === "nbf") return "it is not valid yet (nbf is in the future)";
    if (error.claim === "iat") return "it was issued in the future (iat)";
    return error.reason === "missing" ? `it has no ${error.claim} claim` : `its ${error.claim} claim is not valid`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "its signature does not match its issuer's keys";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `it is signed with an algorithm the services do not take (they take ${ALGORITHMS.join(", ")})`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "no key of its issuer matches its kid";
  return error instanceof Error ? error.message : "signature";
}

/**
 * Verifies signed bearer JWTs (ES256 or EdDSA) against each issuer's keys:
 * `aud` must be "tollgate", `exp` and `sub` must be present, `roles` an array
 * of known roles, and `exp` at most `maxLifetimeDays` ahead (a leaked
 * credential stops working within that time; default 31 days, longer than
 * the 30-day tokens `npm start` and `npm run compose:env` give the
 * services). A verified token is remembered until it expires, so a caller
 * reusing its token pays for one signature check.
 */
export function tokenVerifier(issuers: IssuerKeys, options: { maxLifetimeDays?: number } = {}): TokenVerifier {
  const maxLifetimeDays = options.maxLifetimeDays ?? DEFAULT_MAX_TOKEN_DAYS;
  const keySets = new Map(Object.entries(issuers).map(([issuer, jwks]) => [issuer, createLocalJWKSet(jwks)]));
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();
  const refuse = (why: string): never => {
    throw new UnauthenticatedError(`the credential is not valid: ${why}`, "CREDENTIAL_INVALID");
  };
  return {
    knows: (token) => (verified.get(token)?.expiresAt ?? 0) > Date.now(),
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > Date.now()) return known.principal;
        verified.delete(token);
      }
      let issuer: unknown;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        refuse("not a JWT");
      }
      const keys = typeof issuer === "string" ? keySets.get(issuer) : undefined;
      if (!keys) return refuse("unknown issuer");
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: issuer as string,
          audience: AUDIENCE,
          algorithms: ALGORITHMS,
          requiredClaims: ["exp", "sub"],
        }));
      } catch (error) {
        return refuse(whyRefused(error));
      }
      if ((payload.exp as number) * 1000 - Date.now() > maxLifetimeDays * 86_400_000) {
        return refuse(`it expires more than ${maxLifetimeDays} days ahead (AUTH_MAX_TOKEN_DAYS)`);
      }
      // Recorded as the actor of what the caller does (the journal, the audit log).
      const subject = payload.sub;
      if (typeof subject !== "string" || !isActorName(subject)) {
        return refuse(`sub must name the caller: 1 to ${MAX_ACTOR_LENGTH} characters, no control or bidirectional characters`);
      }
      const roles = payload.roles;
      if (!Array.isArray(roles) || !roles.every((r): r is Role => ROLES.includes(r as Role))) return refuse(`roles must be a list of ${ROLES.join(", ")}`);
      const accounts = payload.accounts;
      if (accounts !== undefined && !(Array.isArray(accounts) && accounts.every((a) => typeof a === "string"))) return refuse("accounts must be a list of account ids");
      const principal: Principal = {
        name: subject,
        issuer: issuer as string,
        roles,
        ...(accounts ? { accounts: accounts as string[] } : {}),
      };
      if (verified.size >= CACHE_LIMIT) verified.clear();
      verified.set(token, { principal, expiresAt: (payload.exp as number) * 1000 });
      return principal;
    },
  };
}

export interface IssuerKeyPair {
  /** The private key (JWK, with `kid` and `alg`), to mint tokens. */
  privateJwk: JWK;
  /** The public key set to put in a verifier's issuer map. */
  publicJwks: JSONWebKeySet;
}

/** A fresh ES256 key pair for an issuer. */
export async function generateIssuerKey(kid = `k${Date.now().toString(36)}`): Promise<IssuerKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "ES256" };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { privateJwk, publicJwks: { keys: [publicJwk] } };
}

export interface TokenClaims {
  issuer: string;
  subject: string;
  roles: readonly Role[];
  accounts?: readonly string[];
  /** Seconds until it expires. */
  ttlSeconds: number;
}

/** Signs a bearer token with an issuer's private key. */
export async function mintToken(privateJwk: JWK, claims: TokenClaims): Promise<string> {
  const alg = privateJwk.alg ?? "ES256";
  const key = await importJWK(privateJwk, alg);
  return new SignJWT({ roles: [...claims.roles], ...(claims.accounts ? { accounts: [...claims.accounts] } : {}) })
    .setProtectedHeader({ alg, ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + claims.ttlSeconds)
    .sign(key);
}

/** A credential a client sends: a fixed token, or a function returning a fresh one. */
export type Credential = string | (() => string | Promise<string>);

/**
 * A token source that mints short-lived tokens from a private key and mints
 * again a minute before each expires.
 */
export function selfSignedCredential(privateJwk: JWK, claims: Omit<TokenClaims, "ttlSeconds"> & { ttlSeconds?: number }): () => Promise<string> {
  const ttlSeconds = claims.ttlSeconds ?? 900;
  let current: { token: Promise<string>; renewAt: number } | undefined;
  return () => {
    if (!current || current.renewAt <= Date.now()) {
      const token = mintToken(privateJwk, { ...claims, ttlSeconds });
      current = { token, renewAt: Date.now() + Math.max(ttlSeconds - 60, ttlSeconds / 2) * 1000 };
      token.catch(() => (current = undefined));
    }
    return current.token;
  };
}
