import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123010000_delivery } from "./Migration20261123010000_delivery.js";

export const migrations = [Migration20261123000000_initial, Migration20261123010000_delivery];
