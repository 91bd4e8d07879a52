import { Migration } from "@tollgate/db";

export class Migration20261123050000_subjects extends Migration {
  override name = "Migration20261123050000_subjects";

  override up(): void {
    this.addSql(`
      create table entitlements.subjects (
        account_id text not null references entitlements.accounts (account_id),
        kind text not null check (kind in ('workspace', 'workspace_group', 'user')),
        subject_id text not null,
        name text not null,
        parent_id text not null default '',
        email text not null default '',
        created_at timestamptz not null default now(),
        primary key (account_id, kind, subject_id)
      )`);
  }

  override down(): void {
    this.addSql(`drop table entitlements.subjects`);
  }
}
