import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261130600000_per_table_versions } from "./Migration20261130600000_per_table_versions.js";
import { Migration20261204100000_idempotency_keys } from "./Migration20261204100000_idempotency_keys.js";
import { Migration20261206100000_published_on_behalf_of } from "./Migration20261206100000_published_on_behalf_of.js";

export const migrations = [
  Migration20261123000000_initial,
  Migration20261130600000_per_table_versions,
  Migration20261204100000_idempotency_keys,
  Migration20261206100000_published_on_behalf_of,
];
