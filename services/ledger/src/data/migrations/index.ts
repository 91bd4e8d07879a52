import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";

export const migrations = [Migration20261123000000_initial];
