import { Migration } from "@tollgate/db";

export class Migration20261123000000_initial extends Migration {
  override name = "Migration20261123000000_initial";

  override up(): void {
    this.addSql(`
      create table pricing.rate_table_versions (
        version bigserial primary key,
        table_id text not null,
        effective_from timestamptz not null,
        published_at timestamptz not null default now(),
        published_by text not null,
        reason text not null default '',
        rates jsonb not null
      )`);
    this.addSql(
      `create index rate_table_versions_table_effective_idx on pricing.rate_table_versions (table_id, effective_from)`,
    );
  }

  override down(): void {
    this.addSql(`drop table pricing.rate_table_versions`);
  }
}
