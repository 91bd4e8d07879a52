import { Migration } from "@tollgate/db";

/**
 * A budget's banners name the budget, so they can be taken down when the
 * budget stops refusing (the ledger's `BudgetLifted`: removed, or raised past
 * what it used). Banners made before this migration name none and stay.
 */
export class Migration20261201500000_banner_budget extends Migration {
  override name = "Migration20261201500000_banner_budget";

  override up(): void {
    this.addSql(`alter table notifications.banners add column budget_id text`);
    // For the take-down: the account's banners of one budget still shown.
    this.addSql(`create index banners_budget_idx on notifications.banners (account_id, budget_id) where budget_id is not null and dismissed_at is null`);
  }

  override down(): void {
    this.addSql(`drop index notifications.banners_budget_idx`);
    this.addSql(`alter table notifications.banners drop column budget_id`);
  }
}
