import { Migration } from "@tollgate/db";

/**
 * Rate table versions are numbered per table (a table's first version is 1).
 * The global number they had is kept as `sequence`: the publication order
 * across every table (WatchRateTables' cursor), and the id the ledger's holds
 * and entries recorded, so they still name the same version.
 */
export class Migration20261130600000_per_table_versions extends Migration {
  override name = "Migration20261130600000_per_table_versions";

  override up(): void {
    this.addSql(`alter table pricing.rate_table_versions rename column version to sequence`);
    this.addSql(`alter table pricing.rate_table_versions add column version integer`);
    this.addSql(`
      update pricing.rate_table_versions v set version = numbered.version
      from (select sequence, row_number() over (partition by table_id order by sequence) as version from pricing.rate_table_versions) numbered
      where numbered.sequence = v.sequence`);
    this.addSql(`alter table pricing.rate_table_versions alter column version set not null`);
    this.addSql(`create unique index rate_table_versions_table_version_idx on pricing.rate_table_versions (table_id, version)`);
  }

  override down(): void {
    this.addSql(`drop index pricing.rate_table_versions_table_version_idx`);
    this.addSql(`alter table pricing.rate_table_versions drop column version`);
    this.addSql(`alter table pricing.rate_table_versions rename column sequence to version`);
  }
}
