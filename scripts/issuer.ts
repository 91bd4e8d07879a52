/**
 * The local credential issuer of `npm start`: an ES256 key pair made at
 * start-up and kept in .tollgate/issuer.json (git-ignored), so `npm run token`
 * and `npm run demo` can sign credentials the running services accept.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateIssuerKey, mintToken, type IssuerKeyPair, type Role } from "@tollgate/grpc-kit";

const root = new URL("..", import.meta.url).pathname;
export const ISSUER_FILE = join(root, ".tollgate", "issuer.json");
export const LOCAL_ISSUER = "tollgate-local";

export interface LocalIssuer extends IssuerKeyPair {
  issuer: string;
}

/** Makes a fresh key pair and saves it (readable by this user only); credentials of an earlier run stop working. */
export async function createLocalIssuer(): Promise<LocalIssuer> {
  const local = { issuer: LOCAL_ISSUER, ...(await generateIssuerKey(`local-${Date.now().toString(36)}`)) };
  mkdirSync(join(root, ".tollgate"), { recursive: true });
  writeFileSync(ISSUER_FILE, JSON.stringify(local, null, 2), { mode: 0o600 });
  chmodSync(ISSUER_FILE, 0o600);
  return local;
}

/** The key pair of the running `npm start`. */
export function readLocalIssuer(): LocalIssuer {
  try {
    return JSON.parse(readFileSync(ISSUER_FILE, "utf8")) as LocalIssuer;
  } catch {
    throw new Error(`no local issuer at ${ISSUER_FILE}: start the platform with npm start first`);
  }
}

/** The environment that makes a service trust the issuer (AUTH_ISSUERS). */
export function trustEnv(local: LocalIssuer): { AUTH_ISSUERS: string } {
  return { AUTH_ISSUERS: JSON.stringify({ [local.issuer]: local.publicJwks }) };
}

export function localToken(local: LocalIssuer, subject: string, roles: readonly Role[], options: { accounts?: string[]; ttlSeconds?: number } = {}): Promise<string> {
  return mintToken(local.privateJwk, {
    issuer: local.issuer,
    subject,
    roles,
    ttlSeconds: options.ttlSeconds ?? 3_600,
    ...(options.accounts?.length ? { accounts: options.accounts } : {}),
  });
}
