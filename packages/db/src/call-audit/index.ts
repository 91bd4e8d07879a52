import { Migration20261130700000_call_audit } from "./Migration20261130700000_call_audit.js";
import { Migration20261220100000_refusals_per_account } from "./Migration20261220100000_refusals_per_account.js";

export const callAuditMigrations = [Migration20261130700000_call_audit, Migration20261220100000_refusals_per_account];
