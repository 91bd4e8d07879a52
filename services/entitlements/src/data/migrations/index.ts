import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123050000_subjects } from "./Migration20261123050000_subjects.js";

export const migrations = [Migration20261123000000_initial, Migration20261123050000_subjects];
