import { Migration } from "@tollgate/db";

export class Migration20261123000000_initial extends Migration {
  override name = "Migration20261123000000_initial";

  override up(): void {
    this.addSql(`
      create table notifications.banners (
        banner_id uuid primary key default gen_random_uuid(),
        account_id text not null,
        rule text not null,
        kind text not null check (kind in ('dismissible', 'fixed')),
        message text not null,
        unit text not null default '',
        threshold_percent integer not null default 0,
        dedup_key text not null unique,
        trace_id text not null default '',
        created_at timestamptz not null default now(),
        dismissed_at timestamptz,
        dismissed_by text
      )`);
    this.addSql(`create index banners_account_idx on notifications.banners (account_id, created_at desc)`);
    this.addSql(`
      create table notifications.consumer_offsets (
        consumer text primary key,
        sequence bigint not null
      )`);
  }

  override down(): void {
    this.addSql(`drop table notifications.consumer_offsets`);
    this.addSql(`drop table notifications.banners`);
  }
}
