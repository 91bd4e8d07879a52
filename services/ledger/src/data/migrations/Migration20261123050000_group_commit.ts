import { Migration } from "@tollgate/db";
import { GROUP_COMMIT_FUNCTIONS } from "./group-commit.sql.js";

/** One transaction for a batch of concurrent Authorize and Charge calls. */
export class Migration20261123050000_group_commit extends Migration {
  override name = "Migration20261123050000_group_commit";

  override up(): void {
    for (const statement of GROUP_COMMIT_FUNCTIONS) this.addSql(statement);
  }
}
