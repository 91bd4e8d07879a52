import { Migration } from "@tollgate/db";

/**
 * When support first set a budget: a reversal gives a budget back only a
 * charge it counted, made after it was set (domain/rules/budgets.ts). Budgets
 * set before this migration take their last change as that time, so a
 * reversal never gives back a charge they may not have counted. The default
 * serves ledgers of the previous release during a rolling deploy, which do
 * not write the column.
 */
export class Migration20261203300000_budget_created_at extends Migration {
  override name = "Migration20261203300000_budget_created_at";

  override up(): void {
    this.addSql(`alter table ledger.budgets add column created_at timestamptz`);
    this.addSql(`update ledger.budgets set created_at = updated_at`);
    this.addSql(`alter table ledger.budgets alter column created_at set default now(), alter column created_at set not null`);
  }

  override down(): void {
    this.addSql(`alter table ledger.budgets drop column created_at`);
  }
}
