import { Migration } from "@tollgate/db";

/**
 * Indexes for support search across accounts (LedgerStore.search): each
 * branch of that query reads one index — holds and entries by primary key,
 * metered work by work id, idempotency keys by key alone, entries by trace id,
 * conversation and task.
 */
export class Migration20261130600000_search extends Migration {
  override name = "Migration20261130600000_search";

  override up(): void {
    this.addSql(`create index idempotency_keys_key_idx on ledger.idempotency_keys (idempotency_key)`);
    this.addSql(`create index entries_trace_idx on ledger.entries (trace_id, entry_id desc) where trace_id <> ''`);
    this.addSql(`
      create index entries_conversation_idx on ledger.entries ((attribution ->> 'conversation_id'), entry_id desc)
      where attribution ->> 'conversation_id' is not null`);
    this.addSql(`
      create index entries_task_idx on ledger.entries ((attribution ->> 'task_id'), entry_id desc)
      where attribution ->> 'task_id' is not null`);
  }

  override down(): void {
    for (const index of ["idempotency_keys_key_idx", "entries_trace_idx", "entries_conversation_idx", "entries_task_idx"]) {
      this.addSql(`drop index ledger.${index}`);
    }
  }
}
