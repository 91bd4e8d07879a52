import { Migration } from "@tollgate/db";

/**
 * Sign-in attempt counters shared by every gateway process on the database
 * (data/login-attempts.ts): more replicas, or a restart, give no one more
 * guesses.
 */
export class Migration20261218100000_login_attempts extends Migration {
  override name = "Migration20261218100000_login_attempts";

  override up(): void {
    // `key`: a client address, or `user:` and the SHA-256 of a user name; its window ends at `expires_at`.
    this.addSql(`create table gateway.login_attempts (key text primary key, attempts integer not null, expires_at timestamptz not null)`);
    // For the prune of ended windows.
    this.addSql(`create index login_attempts_expires_idx on gateway.login_attempts (expires_at)`);
  }

  override down(): void {
    this.addSql(`drop table gateway.login_attempts`);
  }
}
