import { Migration20261130700000_call_audit } from "./Migration20261130700000_call_audit.js";
import { Migration20261220100000_refusals_per_account } from "./Migration20261220100000_refusals_per_account.js";
import { Migration20261224200000_call_audit_filters } from "./Migration20261224200000_call_audit_filters.js";

export const callAuditMigrations = [Migration20261130700000_call_audit, Migration20261220100000_refusals_per_account, Migration20261224200000_call_audit_filters];
