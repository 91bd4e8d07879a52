import { Migration20261123020000_audit } from "./Migration20261123020000_audit.js";
import { Migration20261205100000_audit_idempotency } from "./Migration20261205100000_audit_idempotency.js";

export const migrations = [Migration20261123020000_audit, Migration20261205100000_audit_idempotency];
