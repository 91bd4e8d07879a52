import { Migration } from "@tollgate/db";

/**
 * How far each consumer of StreamEvents has consumed the outbox
 * (AcknowledgeEvents): LedgerStore.pruneOutbox deletes only rows every
 * consumer here has acknowledged. Notifications is registered from the start
 * (at 0: nothing is pruned until it acknowledges), so an upgrade never prunes
 * what it has not consumed. One row per consumer across every account: like
 * the outbox's global sequence, it carries no account_id by design.
 */
export class Migration20261201200000_outbox_consumers extends Migration {
  override name = "Migration20261201200000_outbox_consumers";

  override up(): void {
    this.addSql(`
      create table ledger.outbox_consumers (
        consumer text primary key,
        acknowledged_through bigint not null default 0,
        acknowledged_at timestamptz not null default now()
      )`);
    this.addSql(`insert into ledger.outbox_consumers (consumer) values ('notifications')`);
  }

  override down(): void {
    this.addSql(`drop table ledger.outbox_consumers`);
  }
}
