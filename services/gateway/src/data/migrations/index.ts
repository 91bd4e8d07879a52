import { Migration20261123020000_audit } from "./Migration20261123020000_audit.js";
import { Migration20261205100000_audit_idempotency } from "./Migration20261205100000_audit_idempotency.js";
import { Migration20261218100000_login_attempts } from "./Migration20261218100000_login_attempts.js";
import { Migration20261222100000_revoked_tokens } from "./Migration20261222100000_revoked_tokens.js";
import { Migration20261223100000_idempotency_claims } from "./Migration20261223100000_idempotency_claims.js";
import { Migration20261224200000_audit_actor } from "./Migration20261224200000_audit_actor.js";

export const migrations = [Migration20261123020000_audit, Migration20261205100000_audit_idempotency, Migration20261218100000_login_attempts, Migration20261222100000_revoked_tokens, Migration20261223100000_idempotency_claims, Migration20261224200000_audit_actor];
