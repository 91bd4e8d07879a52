import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123030000_metered_time } from "./Migration20261123030000_metered_time.js";

export const migrations = [Migration20261123000000_initial, Migration20261123030000_metered_time];
