import { Migration } from "@tollgate/db";

/**
 * Reversing a charge: a `reverse` entry names the charge it returns, and a
 * charge is reversed at most once (the unique index is also how a reversal
 * reads whether one was made).
 */
export class Migration20261201400000_reversals extends Migration {
  override name = "Migration20261201400000_reversals";

  override up(): void {
    this.addSql(`alter table ledger.entries drop constraint entries_kind_check`);
    this.addSql(`alter table ledger.entries add constraint entries_kind_check check (kind in ('grant', 'charge', 'adjust', 'expire', 'reset', 'reverse'))`);
    this.addSql(`alter table ledger.entries add column reverses_entry_id bigint`);
    this.addSql(`create unique index entries_reverses_idx on ledger.entries (account_id, reverses_entry_id) where reverses_entry_id is not null`);
  }

  override down(): void {
    this.addSql(`drop index ledger.entries_reverses_idx`);
    this.addSql(`alter table ledger.entries drop column reverses_entry_id`);
    this.addSql(`alter table ledger.entries drop constraint entries_kind_check`);
    this.addSql(`alter table ledger.entries add constraint entries_kind_check check (kind in ('grant', 'charge', 'adjust', 'expire', 'reset'))`);
  }
}
