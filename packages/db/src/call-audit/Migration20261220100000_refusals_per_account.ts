import { Migration } from "@mikro-orm/migrations";

/**
 * Refused calls are counted per caller, RPC, account and minute: counted per
 * caller, RPC and minute, the refusals on a second account joined the row of
 * the first, and an account's audit never showed them (a caller could probe
 * one account behind refusals filed under another).
 *
 * Replicas of an earlier version name the old key in their upsert: until
 * they are replaced, their refusals are not recorded (each failure is
 * logged, "could not record a refused call"); the refusal itself is answered
 * as before.
 */
export class Migration20261220100000_refusals_per_account extends Migration {
  override name = "Migration20261220100000_refusals_per_account";

  override up(): void {
    this.addSql(`create unique index calls_refusal_account_key on audit.calls (principal, rpc, (coalesce(account_id, '')), refusal_window) where refusal_window is not null`);
    this.addSql(`drop index audit.calls_refusal_key`);
  }

  override down(): void {
    this.addSql(`drop index audit.calls_refusal_account_key`);
  }
}
