import { createIndexSql, Migration } from "@tollgate/db";

/** The console's audit rows of one user, newest first (PostgresAuditStore.list's `actor`); kept when built beforehand (createIndexSql). */
export class Migration20261224200000_audit_actor extends Migration {
  override name = "Migration20261224200000_audit_actor";

  override up(): void {
    this.addSql(createIndexSql("gateway", "audit_log_actor_idx", "ON gateway.audit_log USING btree (actor, audit_id DESC)"));
  }

  override down(): void {
    this.addSql(`drop index if exists gateway.audit_log_actor_idx`);
  }
}
