import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123050000_subjects } from "./Migration20261123050000_subjects.js";
import { Migration20261123060000_limit_overrides } from "./Migration20261123060000_limit_overrides.js";
import { Migration20261204100000_idempotency_keys } from "./Migration20261204100000_idempotency_keys.js";
import { Migration20261207100000_plan_published_on_behalf_of } from "./Migration20261207100000_plan_published_on_behalf_of.js";

export const migrations = [
  Migration20261123000000_initial,
  Migration20261123050000_subjects,
  Migration20261123060000_limit_overrides,
  Migration20261204100000_idempotency_keys,
  Migration20261207100000_plan_published_on_behalf_of,
];
