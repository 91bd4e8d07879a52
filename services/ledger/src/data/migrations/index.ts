import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123030000_metered_time } from "./Migration20261123030000_metered_time.js";
import { Migration20261123040000_auto_reload } from "./Migration20261123040000_auto_reload.js";
import { Migration20261123050000_group_commit } from "./Migration20261123050000_group_commit.js";
import { Migration20261123060000_work_labels } from "./Migration20261123060000_work_labels.js";
import { Migration20261130100000_work_context } from "./Migration20261130100000_work_context.js";
import { Migration20261130200000_spend_cap_reached } from "./Migration20261130200000_spend_cap_reached.js";
import { Migration20261130200100_reload_price } from "./Migration20261130200100_reload_price.js";
import { Migration20261130300000_account_lock_order } from "./Migration20261130300000_account_lock_order.js";
import { Migration20261130400000_on_behalf_of } from "./Migration20261130400000_on_behalf_of.js";
import { Migration20261130600000_search } from "./Migration20261130600000_search.js";
import { Migration20261130800000_outbox_retention } from "./Migration20261130800000_outbox_retention.js";
import { Migration20261201100000_work_unit } from "./Migration20261201100000_work_unit.js";
import { Migration20261201170000_room_exhausted } from "./Migration20261201170000_room_exhausted.js";
import { Migration20261201200000_outbox_consumers } from "./Migration20261201200000_outbox_consumers.js";
import { Migration20261201300000_receipts_and_tools } from "./Migration20261201300000_receipts_and_tools.js";
import { Migration20261201400000_reversals } from "./Migration20261201400000_reversals.js";
import { Migration20261202100000_commit_rules } from "./Migration20261202100000_commit_rules.js";
import { Migration20261202200000_account_keys } from "./Migration20261202200000_account_keys.js";
import { Migration20261202300000_budgets } from "./Migration20261202300000_budgets.js";
import { Migration20261202400000_work_kind } from "./Migration20261202400000_work_kind.js";
import { Migration20261202500000_hold_running_total } from "./Migration20261202500000_hold_running_total.js";
import { Migration20261202510000_late_usage } from "./Migration20261202510000_late_usage.js";
import { Migration20261203100000_pool_hold_work_keys } from "./Migration20261203100000_pool_hold_work_keys.js";
import { Migration20261203200000_quiet_pool_triggers } from "./Migration20261203200000_quiet_pool_triggers.js";
import { Migration20261203300000_budget_created_at } from "./Migration20261203300000_budget_created_at.js";
import { Migration20261216100000_drop_sql_ledger } from "./Migration20261216100000_drop_sql_ledger.js";
import { Migration20261208100000_pool_allotted } from "./Migration20261208100000_pool_allotted.js";
import { Migration20261217100000_cycle_opened_at } from "./Migration20261217100000_cycle_opened_at.js";
import { Migration20261223200000_work_rate_table } from "./Migration20261223200000_work_rate_table.js";
import { Migration20261224100000_entries_recorded } from "./Migration20261224100000_entries_recorded.js";

export const migrations = [
  Migration20261123000000_initial,
  Migration20261123030000_metered_time,
  Migration20261123040000_auto_reload,
  Migration20261123050000_group_commit,
  Migration20261123060000_work_labels,
  Migration20261130100000_work_context,
  Migration20261130200000_spend_cap_reached,
  Migration20261130200100_reload_price,
  Migration20261130300000_account_lock_order,
  Migration20261130400000_on_behalf_of,
  Migration20261130600000_search,
  Migration20261130800000_outbox_retention,
  Migration20261201100000_work_unit,
  Migration20261201170000_room_exhausted,
  Migration20261201200000_outbox_consumers,
  Migration20261201300000_receipts_and_tools,
  Migration20261201400000_reversals,
  Migration20261202100000_commit_rules,
  Migration20261202200000_account_keys,
  Migration20261202300000_budgets,
  Migration20261202400000_work_kind,
  Migration20261202500000_hold_running_total,
  Migration20261202510000_late_usage,
  Migration20261203100000_pool_hold_work_keys,
  Migration20261203200000_quiet_pool_triggers,
  Migration20261203300000_budget_created_at,
  Migration20261216100000_drop_sql_ledger,
  Migration20261208100000_pool_allotted,
  Migration20261217100000_cycle_opened_at,
  Migration20261223200000_work_rate_table,
  Migration20261224100000_entries_recorded,
];
