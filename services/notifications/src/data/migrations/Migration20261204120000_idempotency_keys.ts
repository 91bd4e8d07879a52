import { Migration } from "@tollgate/db";

/**
 * The idempotency keys of the support changes (ResendNotification,
 * DismissBanner, SetPreferences): each key, per account, with the operation,
 * the hash of the request it was sent with and the answer it got. A key is
 * claimed and its answer written in the transaction of the change it made;
 * rows older than the retention (IDEMPOTENCY_RETENTION_HOURS) are pruned.
 */
export class Migration20261204120000_idempotency_keys extends Migration {
  override name = "Migration20261204120000_idempotency_keys";

  override up(): void {
    this.addSql(`
      create table notifications.idempotency_keys (
        account_id text not null,
        idempotency_key text not null,
        operation text not null,
        request_hash text not null,
        -- null only inside the transaction that claims the key, until the change it makes is done
        response jsonb,
        created_at timestamptz not null default now(),
        constraint idempotency_keys_pkey primary key (account_id, idempotency_key)
      )`);
    // For pruning, oldest first.
    this.addSql(`create index idempotency_keys_created_idx on notifications.idempotency_keys (created_at)`);
  }

  override down(): void {
    this.addSql(`drop table notifications.idempotency_keys`);
  }
}
