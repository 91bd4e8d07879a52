import { createIndexSql, Migration } from "@tollgate/db";

/**
 * An account's entries by when they were recorded, newest first (entries of
 * one moment newest first too, as the whole journal is listed), for
 * ListEntries' `recorded_from` / `recorded_before`
 * (LedgerStore.entriesRecorded: a statement's period). Entry ids are taken
 * from a sequence before the time is read, and ledger replicas read their own
 * clocks, so a time range is not an id range: without this index the planner
 * found a period long past by walking every newer entry (`entries_entry_idx`
 * backwards) and dropping them.
 *
 * Building it blocks writes to the journal while it runs. On a large journal,
 * build it beforehand without blocking (docs/operations.md); the migration
 * keeps it when valid and of this definition (createIndexSql).
 */
export const ENTRIES_RECORDED_INDEX = "ON ledger.entries USING btree (account_id, created_at DESC, entry_id DESC)";

export class Migration20261224100000_entries_recorded extends Migration {
  override name = "Migration20261224100000_entries_recorded";

  override up(): void {
    this.addSql(createIndexSql("ledger", "entries_recorded_idx", ENTRIES_RECORDED_INDEX));
  }

  override down(): void {
    this.addSql(`drop index if exists ledger.entries_recorded_idx`);
  }
}
