import { Migration } from "@mikro-orm/migrations";

export class Migration20261130700000_call_audit extends Migration {
  override name = "Migration20261130700000_call_audit";

  override up(): void {
    this.addSql(`
      create table audit.calls (
        call_id bigserial primary key,
        at timestamptz not null default now(),
        rpc text not null,
        principal text not null,
        roles text not null,
        on_behalf_of text,
        reason text not null default '',
        account_id text,
        before jsonb,
        after jsonb,
        trace_id text not null default '',
        outcome text not null,
        count integer not null default 1,
        refusal_window timestamptz
      )`);
    this.addSql(`create unique index calls_refusal_key on audit.calls (principal, rpc, refusal_window) where refusal_window is not null`);
    this.addSql(`create index calls_account_idx on audit.calls (account_id, call_id desc)`);
  }

  override down(): void {
    this.addSql(`drop table audit.calls`);
  }
}
