import { Migration } from "@tollgate/db";

/**
 * The action and target each console Idempotency-Key was first sent with,
 * claimed before the action runs: two requests sent at once with one key and
 * different targets no longer both run (the audit row that checked the target
 * is written after the action, so both passed the check).
 */
export class Migration20261223100000_idempotency_claims extends Migration {
  override name = "Migration20261223100000_idempotency_claims";

  override up(): void {
    // Keys are the caller's, so per actor; `idempotency_key` is the key as the services see it (usersKey).
    this.addSql(`create table gateway.idempotency_claims (
      actor text not null,
      idempotency_key text not null,
      action text not null,
      target text not null,
      created_at timestamptz not null default now(),
      primary key (actor, idempotency_key)
    )`);
    // For the prune of claims past the replay window.
    this.addSql(`create index idempotency_claims_created_idx on gateway.idempotency_claims (created_at)`);
  }

  override down(): void {
    this.addSql(`drop table gateway.idempotency_claims`);
  }
}
