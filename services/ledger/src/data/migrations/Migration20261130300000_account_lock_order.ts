import { Migration } from "@tollgate/db";
import { ACCOUNT_LOCK_ORDER_FUNCTIONS } from "./account-lock-order.sql.js";

/** Opening an account no longer locks its accounts row against foreign key checks (no deadlock with charges after a restart). */
export class Migration20261130300000_account_lock_order extends Migration {
  override name = "Migration20261130300000_account_lock_order";

  override up(): void {
    for (const statement of ACCOUNT_LOCK_ORDER_FUNCTIONS) this.addSql(statement);
  }
}
