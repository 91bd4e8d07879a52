import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "@tollgate/config";
import type { JSONWebKeySet, JWK } from "jose";
import type { Role } from "./access.js";
import { selfSignedCredential, tokenVerifier, type Credential, type IssuerKeys } from "./credentials.js";
import type { ServerAuth } from "./guard.js";
import type { ChannelTls } from "./client.js";
import type { RateLimit } from "./rate-limit.js";
import { isLoopback, type ServerTls } from "./server.js";

export interface AuthEnvironment {
  GRPC_HOST: string;
  AUTH_ISSUERS?: string | undefined;
  AUTH_DISABLED: "true" | "false";
  AUTH_TOKEN?: string | undefined;
  AUTH_SIGNING_KEY?: string | undefined;
  AUTH_ISSUER?: string | undefined;
  AUTH_MAX_TOKEN_DAYS?: number | undefined;
}

function json<T>(variable: string, text: string, check: (value: unknown) => boolean, expected: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError([{ variable, problem: `is not JSON (expected ${expected})` }]);
  }
  if (!check(value)) throw new ConfigError([{ variable, problem: `expected ${expected}` }]);
  return value as T;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * How a service checks its callers, from the environment. Secure by default:
 * without AUTH_ISSUERS the service does not start, and AUTH_DISABLED=true is
 * accepted only on a loopback GRPC_HOST.
 */
export function serverAuthFromEnv(config: AuthEnvironment): ServerAuth {
  if (config.AUTH_DISABLED === "true") {
    if (!isLoopback(config.GRPC_HOST)) {
      throw new ConfigError([{ variable: "AUTH_DISABLED", problem: `authentication can be turned off only on a loopback GRPC_HOST, not ${config.GRPC_HOST}` }]);
    }
    return { disabled: true };
  }
  if (!config.AUTH_ISSUERS) {
    throw new ConfigError([
      { variable: "AUTH_ISSUERS", problem: "is required: the trusted issuers' public keys (or AUTH_DISABLED=true, on a loopback GRPC_HOST only)" },
    ]);
  }
  const issuers = json<IssuerKeys>(
    "AUTH_ISSUERS",
    config.AUTH_ISSUERS,
    (v) => isObject(v) && Object.keys(v).length > 0 && Object.values(v).every((set) => isObject(set) && Array.isArray(set.keys)),
    '{ "<issuer>": { "keys": [JWK, …] } }',
  );
  return { verifier: tokenVerifier(issuers as Record<string, JSONWebKeySet>, config.AUTH_MAX_TOKEN_DAYS ? { maxLifetimeDays: config.AUTH_MAX_TOKEN_DAYS } : {}) };
}

/** Who may call a service, whether it serves reflection, how fast each caller may call, and whether over TLS. */
export function serverSecurityFromEnv(
  config: AuthEnvironment & TlsEnvironment & { GRPC_REFLECTION: "true" | "false"; GRPC_RATE_LIMIT: number; GRPC_RATE_BURST: number },
): { auth: ServerAuth; reflection: boolean; rateLimit?: RateLimit; tls?: ServerTls } {
  const tls = serverTlsFromEnv(config);
  return {
    auth: serverAuthFromEnv(config),
    reflection: config.GRPC_REFLECTION === "true",
    ...(config.GRPC_RATE_LIMIT > 0 ? { rateLimit: { perSecond: config.GRPC_RATE_LIMIT, ...(config.GRPC_RATE_BURST > 0 ? { burst: config.GRPC_RATE_BURST } : {}) } } : {}),
    ...(tls ? { tls } : {}),
  };
}

export interface TlsEnvironment {
  GRPC_TLS_CERT_FILE?: string | undefined;
  GRPC_TLS_KEY_FILE?: string | undefined;
  GRPC_TLS_CA_FILE?: string | undefined;
}

/** A PEM file the environment names, read at boot: a missing or unreadable one stops it, naming the variable. */
function pemFile(variable: keyof TlsEnvironment, path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError([{ variable, problem: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }]);
  }
  if (!pem.includes("-----BEGIN ")) throw new ConfigError([{ variable, problem: `${path} is not PEM` }]);
  return pem;
}

/** TLS on a service's gRPC port: GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE, both or neither (unset: plaintext). */
export function serverTlsFromEnv(config: TlsEnvironment): ServerTls | undefined {
  const { GRPC_TLS_CERT_FILE: cert, GRPC_TLS_KEY_FILE: key } = config;
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new ConfigError([{ variable: cert ? "GRPC_TLS_KEY_FILE" : "GRPC_TLS_CERT_FILE", problem: "is required with the other (the certificate chain and its private key)" }]);
  }
  const tls = { certChain: pemFile("GRPC_TLS_CERT_FILE", cert), privateKey: pemFile("GRPC_TLS_KEY_FILE", key) };
  try {
    createSecureContext({ cert: tls.certChain, key: tls.privateKey }); // throws when the key is not the certificate's
  } catch (error) {
    throw new ConfigError([{ variable: "GRPC_TLS_KEY_FILE", problem: `is not the key of GRPC_TLS_CERT_FILE's certificate (${(error as Error).message})` }]);
  }
  return tls;
}

/** TLS on a process's calls to the services: GRPC_TLS_CA_FILE, the CA certificates theirs are checked against (unset: plaintext). */
export function channelTlsFromEnv(config: TlsEnvironment): ChannelTls | undefined {
  return config.GRPC_TLS_CA_FILE ? { rootCerts: pemFile("GRPC_TLS_CA_FILE", config.GRPC_TLS_CA_FILE) } : undefined;
}

/** The credential a service sends on its own calls: AUTH_TOKEN, or tokens it mints with AUTH_SIGNING_KEY as AUTH_ISSUER. */
export function clientCredentialFromEnv(config: Pick<AuthEnvironment, "AUTH_TOKEN" | "AUTH_SIGNING_KEY" | "AUTH_ISSUER">, subject: string, roles: readonly Role[]): Credential | undefined {
  if (config.AUTH_TOKEN) return config.AUTH_TOKEN;
  if (!config.AUTH_SIGNING_KEY) return undefined;
  if (!config.AUTH_ISSUER) throw new ConfigError([{ variable: "AUTH_ISSUER", problem: "is required with AUTH_SIGNING_KEY (the issuer its tokens name)" }]);
  const key = json<JWK>("AUTH_SIGNING_KEY", config.AUTH_SIGNING_KEY, (v) => isObject(v) && typeof v.d === "string", "a private JWK");
  return selfSignedCredential(key, { issuer: config.AUTH_ISSUER, subject, roles });
}
