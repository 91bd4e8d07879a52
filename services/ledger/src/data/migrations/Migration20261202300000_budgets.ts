import { Migration } from "@tollgate/db";
import { BUDGETS } from "./budgets.sql.js";

/** Budgets per attribution scope, and the notification that stops Meter streams under an exhausted hard budget. */
export class Migration20261202300000_budgets extends Migration {
  override name = "Migration20261202300000_budgets";

  override up(): void {
    for (const statement of BUDGETS) this.addSql(statement);
  }

  override down(): void {
    this.addSql(`drop table ledger.budgets`);
    this.addSql(`drop function ledger.notify_budget_exhausted()`);
  }
}
