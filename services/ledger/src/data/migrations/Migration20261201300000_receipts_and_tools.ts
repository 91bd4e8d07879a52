import { Migration } from "@tollgate/db";

/**
 * Reads for cost receipts and the usage views, and the account's tool
 * catalogue. An outbox row is found by its account and the time of the
 * transaction that wrote it (a receipt's events); entries by tool (the Tools
 * tab's runs and last activity). `tools` is what the ledger knows of a tool
 * beyond its usage: its owner and status (seed 001's Tools tab).
 */
export class Migration20261201300000_receipts_and_tools extends Migration {
  override name = "Migration20261201300000_receipts_and_tools";

  override up(): void {
    this.addSql(`create index outbox_account_created_idx on ledger.outbox (account_id, created_at)`);
    this.addSql(`
      create index entries_tool_idx on ledger.entries (account_id, (attribution ->> 'tool'), entry_id desc)
      where attribution ->> 'tool' is not null`);
    this.addSql(`
      create table ledger.tools (
        account_id text not null,
        tool text not null,
        owner text not null default '',
        status text not null check (status in ('development', 'deployed', 'undeployed', 'deleted')),
        first_deployed_at timestamptz,
        updated_at timestamptz not null default now(),
        primary key (account_id, tool)
      )`);
  }

  override down(): void {
    this.addSql(`drop table ledger.tools`);
    this.addSql(`drop index ledger.entries_tool_idx`);
    this.addSql(`drop index ledger.outbox_account_created_idx`);
  }
}
