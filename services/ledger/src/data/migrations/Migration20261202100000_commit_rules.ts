import { Migration } from "@tollgate/db";
import { COMMIT_RULES_GUARD } from "./commit-rules-guard.sql.js";

/**
 * Spend cap reached and room exhausted are decided in TypeScript
 * (domain/rules/), at commit: the pool triggers stay for ledgers of earlier
 * releases and keep quiet for the state store's transactions.
 */
export class Migration20261202100000_commit_rules extends Migration {
  override name = "Migration20261202100000_commit_rules";

  override up(): void {
    for (const statement of COMMIT_RULES_GUARD) this.addSql(statement);
  }
}
