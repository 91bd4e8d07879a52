import { Migration } from "@tollgate/db";

export class Migration20261123010000_delivery extends Migration {
  override name = "Migration20261123010000_delivery";

  override up(): void {
    this.addSql(`
      create table notifications.preferences (
        account_id text primary key,
        email_recipients jsonb not null default '[]',
        webhooks jsonb not null default '[]',
        channels_by_rule jsonb not null default '{}',
        updated_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table notifications.deliveries (
        notification_id uuid primary key default gen_random_uuid(),
        account_id text not null,
        channel text not null check (channel in ('email', 'webhook')),
        recipient text not null,
        rule text not null,
        dedup_key text not null unique,
        payload jsonb not null,
        status text not null default 'pending' check (status in ('pending', 'sending', 'delivered', 'failed', 'dead_letter')),
        attempts integer not null default 0,
        last_error text not null default '',
        next_attempt_at timestamptz not null default now(),
        lease_until timestamptz,
        trace_id text not null default '',
        traceparent text not null default '',
        created_at timestamptz not null default now(),
        delivered_at timestamptz
      )`);
    this.addSql(`create index deliveries_due_idx on notifications.deliveries (next_attempt_at) where status in ('pending', 'failed', 'sending')`);
    this.addSql(`create index deliveries_account_idx on notifications.deliveries (account_id, created_at desc)`);
  }

  override down(): void {
    this.addSql(`drop table notifications.deliveries`);
    this.addSql(`drop table notifications.preferences`);
  }
}
