/**
 * Prints a credential signed by the running `npm start`'s issuer:
 *   npm run token -- --role meter [--role support] [--account demo-support] [--ttl 1h] [--subject my-backend]
 * Send it as `authorization: Bearer <token>` (grpcurl -H "authorization: Bearer $(npm run -s token -- --role meter)").
 */
import { parseArgs } from "node:util";
import { ROLES, type Role } from "@tollgate/grpc-kit";
import { localToken, readLocalIssuer } from "./issuer.js";

const fail = (message: string): never => {
  console.error(`token: ${message}`);
  process.exit(2);
};

/** The longest a credential from this script lives: the services' own, under npm start, last 30 days. */
const MAX_TTL_DAYS = 30;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        role: { type: "string", multiple: true },
        account: { type: "string", multiple: true },
        ttl: { type: "string", default: "1h" },
        subject: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message.split("\n")[0]} (options: --role, --account, --ttl, --subject, --help)`);
  }
})();

if (values.help) {
  console.log(`Prints a credential signed by the running npm start's issuer.

  npm run -s token -- --role meter [--role support|admin|service] [--account demo-support] [--ttl 1h] [--subject my-backend]

  --role      ${ROLES.join(", ")} (repeatable, or comma-separated)
  --account   limit the credential to these accounts (repeatable)
  --ttl       how long it lives: 90s, 30m, 1h (default), 7d; at most ${MAX_TTL_DAYS}d
  --subject   the principal it names (default cli-<roles>)

Send it as  authorization: Bearer <token>`);
  process.exit(0);
}

const roles = (values.role ?? []).flatMap((r) => r.split(",")).map((r) => r.trim()).filter(Boolean);
if (roles.length === 0) fail(`say which role: --role ${ROLES.join("|")} (repeatable)`);
for (const role of roles) if (!ROLES.includes(role as Role)) fail(`unknown role '${role}' (one of ${ROLES.join(", ")})`);

const ttl = /^(\d+)([smhd]?)$/.exec(values.ttl);
if (!ttl) fail(`--ttl: '${values.ttl}' is not a duration such as 90s, 30m, 1h or 7d`);
const ttlSeconds = Number(ttl![1]) * { "": 1, s: 1, m: 60, h: 3_600, d: 86_400 }[ttl![2] as "" | "s" | "m" | "h" | "d"];
if (ttlSeconds <= 0) fail("--ttl must be positive");
if (ttlSeconds > MAX_TTL_DAYS * 86_400) fail(`--ttl must be at most ${MAX_TTL_DAYS}d`);

const accounts = (values.account ?? []).flatMap((a) => a.split(",")).map((a) => a.trim()).filter(Boolean);
const subject = values.subject ?? `cli-${roles.join("-")}`;
console.log(await localToken(readLocalIssuer(), subject, roles as Role[], { accounts, ttlSeconds }));
