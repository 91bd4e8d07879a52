import { Migration } from "@tollgate/db";

/**
 * When the account's current cycle was opened: the rollover runs lazily, at
 * the account's first call of the cycle, and a pool carried over is rebased
 * then (rules/rollover.ts), so a reversal asks whether the charge it undoes
 * came before that moment, not before the cycle's start. Null for cycles
 * opened before this column (read as the cycle's start).
 */
export class Migration20261217100000_cycle_opened_at extends Migration {
  override name = "Migration20261217100000_cycle_opened_at";

  override up(): void {
    this.addSql(`alter table ledger.accounts add column cycle_opened_at timestamptz`);
  }

  override down(): void {
    this.addSql(`alter table ledger.accounts drop column cycle_opened_at`);
  }
}
