import { Migration } from "@tollgate/db";

/**
 * Late usage: a charge may say when its usage happened (Charge.occurred_at,
 * bounded to the current and previous cycle and the idempotency-key
 * retention). Usage windows and cycle figures count an entry at
 * coalesce(occurred_at, created_at); null for everything charged as it
 * happened, so no existing row changes.
 */
export class Migration20261202510000_late_usage extends Migration {
  override name = "Migration20261202510000_late_usage";

  override up(): void {
    this.addSql(`alter table ledger.entries add column occurred_at timestamptz`);
    this.addSql(`alter table ledger.entries add constraint entries_occurred_at_check check (occurred_at is null or occurred_at <= created_at)`);
  }

  override down(): void {
    this.addSql(`alter table ledger.entries drop constraint entries_occurred_at_check`);
    this.addSql(`alter table ledger.entries drop column occurred_at`);
  }
}
