import { Migration } from "@tollgate/db";

/**
 * The unit a run's or deployment's time is charged in, kept on the work row
 * so the ledger's state store can hand metering ticks their unit (the state
 * machine charges a tick in the work's unit). Rows started before it were
 * all priced in credits.
 */
export class Migration20261201100000_work_unit extends Migration {
  override name = "Migration20261201100000_work_unit";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column unit text not null default 'credits'`);
  }

  override down(): void {
    this.addSql(`alter table ledger.metered_work drop column unit`);
  }
}
