import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123010000_delivery } from "./Migration20261123010000_delivery.js";
import { Migration20261201500000_banner_budget } from "./Migration20261201500000_banner_budget.js";
import { Migration20261204120000_idempotency_keys } from "./Migration20261204120000_idempotency_keys.js";
import { Migration20261205100000_banner_event_sequence } from "./Migration20261205100000_banner_event_sequence.js";
import { Migration20261221100000_delivery_resend } from "./Migration20261221100000_delivery_resend.js";

export const migrations = [
  Migration20261123000000_initial,
  Migration20261123010000_delivery,
  Migration20261201500000_banner_budget,
  Migration20261204120000_idempotency_keys,
  Migration20261205100000_banner_event_sequence,
  Migration20261221100000_delivery_resend,
];
