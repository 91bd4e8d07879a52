import { Migration } from "@tollgate/db";

/**
 * Console tokens signed out before they expire (`POST /api/logout`), shared
 * by every gateway process on the database: a token taken from a browser
 * stops working when its user signs out, not hours later.
 */
export class Migration20261222100000_revoked_tokens extends Migration {
  override name = "Migration20261222100000_revoked_tokens";

  override up(): void {
    // `token_id`: the token's `jti`; kept until the token would have expired anyway (`expires_at`, its `exp`).
    this.addSql(`create table gateway.revoked_tokens (token_id text primary key, expires_at timestamptz not null)`);
    // For the prune of tokens past their expiry.
    this.addSql(`create index revoked_tokens_expires_idx on gateway.revoked_tokens (expires_at)`);
  }

  override down(): void {
    this.addSql(`drop table gateway.revoked_tokens`);
  }
}
