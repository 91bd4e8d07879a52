import { Migration } from "@tollgate/db";

/** The person a service acted for (the console's user), recorded beside the entry's actor (the authenticated principal). */
export class Migration20261130400000_on_behalf_of extends Migration {
  override name = "Migration20261130400000_on_behalf_of";

  override up(): void {
    this.addSql(`alter table ledger.entries add column on_behalf_of text`);
  }
}
