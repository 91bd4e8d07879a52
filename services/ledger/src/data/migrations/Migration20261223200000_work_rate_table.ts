import { Migration } from "@tollgate/db";

/**
 * The rate table a run or deployment was priced with when it started, so its
 * ticks keep pricing it there after its account moves to a plan with another
 * table (which may not price its hardware at all). Null on work started
 * before: priced with the account's table, as then.
 */
export class Migration20261223200000_work_rate_table extends Migration {
  override name = "Migration20261223200000_work_rate_table";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column rate_table_id text`);
  }

  override down(): void {
    this.addSql(`alter table ledger.metered_work drop column rate_table_id`);
  }
}
