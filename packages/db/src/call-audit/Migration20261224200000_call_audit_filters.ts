import { Migration } from "@mikro-orm/migrations";
import { createIndexSql } from "../index-sql.js";

/**
 * The audit log filtered by who (CallAuditLog.list's `actor`: the calls a
 * principal made, and those made on a console user's behalf) and to the
 * refused calls alone (`refused`), newest first. Each is kept when built
 * beforehand (createIndexSql).
 */
export class Migration20261224200000_call_audit_filters extends Migration {
  override name = "Migration20261224200000_call_audit_filters";

  override up(): void {
    this.addSql(createIndexSql("audit", "calls_principal_idx", "ON audit.calls USING btree (principal, call_id DESC)"));
    this.addSql(createIndexSql("audit", "calls_on_behalf_of_idx", "ON audit.calls USING btree (on_behalf_of, call_id DESC) WHERE (on_behalf_of IS NOT NULL)"));
    this.addSql(createIndexSql("audit", "calls_refused_idx", "ON audit.calls USING btree (call_id DESC) WHERE (refusal_window IS NOT NULL)"));
  }

  override down(): void {
    for (const index of ["calls_principal_idx", "calls_on_behalf_of_idx", "calls_refused_idx"]) this.addSql(`drop index if exists audit.${index}`);
  }
}
