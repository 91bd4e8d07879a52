import { Migration } from "@tollgate/db";

/** The console's audit rows of one user, newest first (PostgresAuditStore.list's `actor`). */
export class Migration20261224200000_audit_actor extends Migration {
  override name = "Migration20261224200000_audit_actor";

  override up(): void {
    this.addSql(`create index if not exists audit_log_actor_idx on gateway.audit_log (actor, audit_id desc)`);
  }

  override down(): void {
    this.addSql(`drop index if exists gateway.audit_log_actor_idx`);
  }
}
