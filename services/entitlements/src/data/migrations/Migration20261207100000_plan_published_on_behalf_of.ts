import { Migration } from "@tollgate/db";

/**
 * Who a plan version was published for: the person a service acted for (the
 * console's signed-in admin, its `x-tollgate-on-behalf-of`), beside the
 * principal in `published_by`. Null for versions published before, and for a
 * publisher acting for itself.
 */
export class Migration20261207100000_plan_published_on_behalf_of extends Migration {
  override name = "Migration20261207100000_plan_published_on_behalf_of";

  override up(): void {
    this.addSql(`alter table entitlements.plan_versions add column published_on_behalf_of text`);
  }

  override down(): void {
    this.addSql(`alter table entitlements.plan_versions drop column published_on_behalf_of`);
  }
}
