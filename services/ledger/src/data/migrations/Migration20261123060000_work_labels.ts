import { Migration } from "@tollgate/db";

/** Descriptive labels a caller attaches to a run or deployment (a script's language, a model's type); never priced. */
export class Migration20261123060000_work_labels extends Migration {
  override name = "Migration20261123060000_work_labels";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column labels jsonb not null default '{}'`);
  }
}
