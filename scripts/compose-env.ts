/**
 * Writes .env for docker-compose: a fresh issuer (its private key stays in
 * .tollgate/issuer.json, so `npm run token` signs credentials the stack
 * accepts), the public keys the services trust, a token for the services'
 * own calls and one for the gateway, the gateway's session secret, the
 * console's users with fresh passwords, and PostgreSQL's password: nothing
 * in docker-compose.yml is a fixed secret.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "@tollgate/grpc-kit";
import { createLocalIssuer, localToken, trustEnv } from "./issuer.js";

const root = new URL("..", import.meta.url).pathname;
const ttlSeconds = 30 * 86_400;
const issuer = await createLocalIssuer();
const password = () => randomBytes(12).toString("base64url");
const users = { viewer: password(), operator: password(), admin: password() };
const env = {
  TOLLGATE_AUTH_ISSUERS: trustEnv(issuer).AUTH_ISSUERS,
  TOLLGATE_SERVICE_TOKEN: await localToken(issuer, "platform-services", ["service"], { ttlSeconds }),
  TOLLGATE_GATEWAY_TOKEN: await localToken(issuer, "gateway", ROLES, { ttlSeconds }),
  GATEWAY_SECRET: randomBytes(32).toString("hex"),
  GATEWAY_USERS: Object.entries(users).map(([role, secret]) => `${role}:${secret}:${role}`).join(","),
  POSTGRES_PASSWORD: randomBytes(24).toString("hex"),
};
const file = join(root, ".env");
writeFileSync(file, Object.entries(env).map(([key, value]) => `${key}='${value}'`).join("\n") + "\n", { mode: 0o600 });
console.log(`wrote ${file} (tokens valid 30 days); docker compose up, then: npm run -s token -- --role meter`);
console.log(`console logins: ${Object.entries(users).map(([role, secret]) => `${role} / ${secret}`).join(", ")}`);
