import { Migration20261123020000_audit } from "./Migration20261123020000_audit.js";

export const migrations = [Migration20261123020000_audit];
