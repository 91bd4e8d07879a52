import { Migration } from "@tollgate/db";

/**
 * A hold's running total: the usage its charges reported so far (summed per
 * model, tool, hardware…, bigint quantities as strings) and the rounded price
 * of all of it at the hold's rate table version. Each charge on the hold
 * prices the new total and charges the difference (rounded once). Holds from
 * before start their running total at their next charge.
 */
export class Migration20261202500000_hold_running_total extends Migration {
  override name = "Migration20261202500000_hold_running_total";

  override up(): void {
    this.addSql(`alter table ledger.holds add column priced_usage jsonb not null default '[]'`);
    this.addSql(`alter table ledger.holds add column priced_micros bigint not null default 0 check (priced_micros >= 0)`);
  }

  override down(): void {
    this.addSql(`alter table ledger.holds drop column priced_micros`);
    this.addSql(`alter table ledger.holds drop column priced_usage`);
  }
}
