import { Migration } from "@tollgate/db";
import { RELOAD_PRICE } from "./reload-price.sql.js";

/** An add-on auto reload's event carries its price when the plan sets one. */
export class Migration20261130200100_reload_price extends Migration {
  override name = "Migration20261130200100_reload_price";

  override up(): void {
    for (const statement of RELOAD_PRICE) this.addSql(statement);
  }
}
