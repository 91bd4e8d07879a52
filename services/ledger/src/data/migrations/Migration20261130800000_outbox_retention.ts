import { Migration } from "@tollgate/db";

/**
 * How far the outbox has been pruned (LedgerStore.pruneOutbox): StreamEvents
 * refuses to resume from before it rather than skip what is gone.
 */
export class Migration20261130800000_outbox_retention extends Migration {
  override name = "Migration20261130800000_outbox_retention";

  override up(): void {
    this.addSql(`
      create table ledger.outbox_retention (
        singleton boolean primary key default true check (singleton),
        pruned_through bigint not null default 0
      )`);
    this.addSql(`insert into ledger.outbox_retention default values`);
  }

  override down(): void {
    this.addSql(`drop table ledger.outbox_retention`);
  }
}
