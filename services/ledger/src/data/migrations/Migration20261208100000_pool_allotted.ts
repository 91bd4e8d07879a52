import { Migration } from "@tollgate/db";

/**
 * What the cycle's plans gave a monthly pool: its allotment, raised when the
 * account moves within the cycle to a plan with a larger one. Kept apart from
 * `granted_micros`, which support Adjusts also move, so an upgrade gives
 * exactly the difference between the plans whatever support did. Null for
 * other pools and for pools written before this column (read as
 * `granted_micros`).
 */
export class Migration20261208100000_pool_allotted extends Migration {
  override name = "Migration20261208100000_pool_allotted";

  override up(): void {
    this.addSql(`alter table ledger.pools add column allotted_micros bigint check (allotted_micros >= 0)`);
  }

  override down(): void {
    this.addSql(`alter table ledger.pools drop column allotted_micros`);
  }
}
