import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123050000_subjects } from "./Migration20261123050000_subjects.js";
import { Migration20261123060000_limit_overrides } from "./Migration20261123060000_limit_overrides.js";

export const migrations = [Migration20261123000000_initial, Migration20261123050000_subjects, Migration20261123060000_limit_overrides];
