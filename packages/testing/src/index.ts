import pg from "pg";

import {
  generateIssuerKey,
  mintToken,
  selfSignedCredential,
  tokenVerifier,
  type Credential,
  type IssuerKeyPair,
  type IssuerKeys,
  type Role,
  type ServerAuth,
} from "@tollgate/grpc-kit";

export { errorDetails } from "@tollgate/grpc-kit";

/** The server tests create their databases on (set up by global-setup). */
export function adminUrl(): string {
  const url = process.env.TOLLGATE_TEST_ADMIN_URL;
  if (!url) throw new Error("TOLLGATE_TEST_ADMIN_URL is not set: run tests through vitest's global setup");
  return url;
}

let counter = 0;

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh, empty database for one test file in this worker. Services
 * started on it run their real migrations.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = new URL(adminUrl());
  const name = `tollgate_t${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`create database "${name}" template template0`);
  } finally {
    await client.end();
  }
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const dropper = new pg.Client({ connectionString: admin.toString() });
      await dropper.connect();
      try {
        await dropper.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The test issuer: one key pair per test process, trusted by every service a test starts. */
export interface TestIssuer {
  /** The issuer map services verify against. */
  issuers: IssuerKeys;
  /** The server side: verify credentials from this issuer. */
  auth: ServerAuth;
  /** A signed token (default: an hour). */
  token(subject: string, roles: readonly Role[], options?: { accounts?: string[]; ttlSeconds?: number }): Promise<string>;
  /** A token source for a client, minted once and renewed before it expires. */
  credential(subject: string, roles: readonly Role[], options?: { accounts?: string[] }): Credential;
  privateJwk: IssuerKeyPair["privateJwk"];
  name: string;
}

/** The subject and roles of the client a test uses by default: it may call every RPC. */
export const TEST_PRINCIPAL = "test-operator";

let issuer: Promise<TestIssuer> | undefined;

export function testIssuer(): Promise<TestIssuer> {
  issuer ??= generateIssuerKey("test").then(({ privateJwk, publicJwks }) => {
    const name = "tollgate-tests";
    const issuers = { [name]: publicJwks };
    return {
      issuers,
      auth: { verifier: tokenVerifier(issuers) },
      privateJwk,
      name,
      token: (subject, roles, options = {}) =>
        mintToken(privateJwk, { issuer: name, subject, roles, ttlSeconds: options.ttlSeconds ?? 3_600, ...(options.accounts ? { accounts: options.accounts } : {}) }),
      credential: (subject, roles, options = {}) =>
        selfSignedCredential(privateJwk, { issuer: name, subject, roles, ...(options.accounts ? { accounts: options.accounts } : {}) }),
    };
  });
  return issuer;
}
