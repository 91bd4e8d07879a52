import { Migration20261123000000_initial } from "./Migration20261123000000_initial.js";
import { Migration20261123030000_metered_time } from "./Migration20261123030000_metered_time.js";
import { Migration20261123040000_auto_reload } from "./Migration20261123040000_auto_reload.js";
import { Migration20261123050000_group_commit } from "./Migration20261123050000_group_commit.js";
import { Migration20261123060000_work_labels } from "./Migration20261123060000_work_labels.js";
import { Migration20261130300000_account_lock_order } from "./Migration20261130300000_account_lock_order.js";

export const migrations = [
  Migration20261123000000_initial,
  Migration20261123030000_metered_time,
  Migration20261123040000_auto_reload,
  Migration20261123050000_group_commit,
  Migration20261123060000_work_labels,
  Migration20261130300000_account_lock_order,
];
