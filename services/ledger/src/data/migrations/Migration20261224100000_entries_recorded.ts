import { Migration } from "@tollgate/db";

/**
 * An account's entries by when they were recorded, newest first (entries of
 * one moment in the order written), for ListEntries' `recorded_from` /
 * `recorded_before` (LedgerStore.entriesRecorded: a statement's period). Entry ids are taken from a sequence before the time is read, and
 * ledger replicas read their own clocks, so a time range is not an id range:
 * without this index a period long past was found by reading every newer
 * entry of the account along entries_pkey.
 *
 * Building it blocks writes to the journal while it runs. On a large journal,
 * build it beforehand without blocking (docs/operations.md):
 * `create index concurrently if not exists entries_recorded_idx on ledger.entries (account_id, created_at desc, entry_id)`.
 */
export class Migration20261224100000_entries_recorded extends Migration {
  override name = "Migration20261224100000_entries_recorded";

  override up(): void {
    this.addSql(`create index if not exists entries_recorded_idx on ledger.entries (account_id, created_at desc, entry_id)`);
  }

  override down(): void {
    this.addSql(`drop index if exists ledger.entries_recorded_idx`);
  }
}
