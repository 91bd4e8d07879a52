import { Migration } from "@tollgate/db";

export class Migration20261123020000_audit extends Migration {
  override name = "Migration20261123020000_audit";

  override up(): void {
    this.addSql(`
      create table gateway.audit_log (
        audit_id bigserial primary key,
        actor text not null,
        role text not null,
        action text not null,
        target text not null,
        account_id text,
        reason text not null,
        before jsonb,
        after jsonb,
        trace_id text not null default '',
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index audit_log_account_idx on gateway.audit_log (account_id, audit_id desc)`);
  }

  override down(): void {
    this.addSql(`drop table gateway.audit_log`);
  }
}
