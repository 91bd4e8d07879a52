import { Migration20261130700000_call_audit } from "./Migration20261130700000_call_audit.js";

export const callAuditMigrations = [Migration20261130700000_call_audit];
