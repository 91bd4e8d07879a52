import { Migration } from "@mikro-orm/migrations";

/**
 * The audit log filtered by who (CallAuditLog.list's `actor`: the calls a
 * principal made, and those made on a console user's behalf) and to the
 * refused calls alone (`refused`), newest first.
 */
export class Migration20261224200000_call_audit_filters extends Migration {
  override name = "Migration20261224200000_call_audit_filters";

  override up(): void {
    this.addSql(`create index if not exists calls_principal_idx on audit.calls (principal, call_id desc)`);
    this.addSql(`create index if not exists calls_on_behalf_of_idx on audit.calls (on_behalf_of, call_id desc) where on_behalf_of is not null`);
    this.addSql(`create index if not exists calls_refused_idx on audit.calls (call_id desc) where refusal_window is not null`);
  }

  override down(): void {
    for (const index of ["calls_principal_idx", "calls_on_behalf_of_idx", "calls_refused_idx"]) this.addSql(`drop index if exists audit.${index}`);
  }
}
