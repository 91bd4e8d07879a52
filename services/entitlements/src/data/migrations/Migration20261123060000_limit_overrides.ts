import { Migration } from "@tollgate/db";

export class Migration20261123060000_limit_overrides extends Migration {
  override name = "Migration20261123060000_limit_overrides";

  override up(): void {
    this.addSql(`alter table entitlements.accounts add column limit_overrides jsonb not null default '[]'`);
  }

  override down(): void {
    this.addSql(`alter table entitlements.accounts drop column limit_overrides`);
  }
}
