import { Migration } from "@tollgate/db";
import { SPEND_CAP_REACHED } from "./spend-cap-reached.sql.js";

/** A BYOM account's spend cap reached is a ledger event, once per cycle. */
export class Migration20261130200000_spend_cap_reached extends Migration {
  override name = "Migration20261130200000_spend_cap_reached";

  override up(): void {
    for (const statement of SPEND_CAP_REACHED) this.addSql(statement);
  }
}
