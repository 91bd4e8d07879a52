import { Migration } from "@tollgate/db";

/**
 * The kind of work a run or deployment is (guardrail, custom script, model
 * hosting…; empty when the caller named none), kept on the work row so its
 * plan limits apply while it runs and its events name it.
 */
export class Migration20261202400000_work_kind extends Migration {
  override name = "Migration20261202400000_work_kind";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column work_kind text not null default ''`);
  }

  override down(): void {
    this.addSql(`alter table ledger.metered_work drop column work_kind`);
  }
}
