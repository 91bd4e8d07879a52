import { Migration } from "@tollgate/db";

/** A console action retried with its Idempotency-Key is audited once: the retry finds the first one's row. */
export class Migration20261205100000_audit_idempotency extends Migration {
  override name = "Migration20261205100000_audit_idempotency";

  override up(): void {
    this.addSql(`alter table gateway.audit_log add column idempotency_key text`);
    // For PostgresAuditStore.record's look-up of a retried action (keys are the caller's, so per actor).
    this.addSql(`create unique index audit_log_idempotency_idx on gateway.audit_log (actor, idempotency_key) where idempotency_key is not null`);
  }

  override down(): void {
    this.addSql(`drop index gateway.audit_log_idempotency_idx`);
    this.addSql(`alter table gateway.audit_log drop column idempotency_key`);
  }
}
