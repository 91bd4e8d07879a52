import { Migration } from "@tollgate/db";

/**
 * The answers of calls made under an idempotency key (PublishRateTable), per
 * scope (`table:<table id>`) and key: a repeat answers the record instead of
 * publishing again. Pruned by age (`created_at`).
 */
export class Migration20261204100000_idempotency_keys extends Migration {
  override name = "Migration20261204100000_idempotency_keys";

  override up(): void {
    this.addSql(`
      create table pricing.idempotency_keys (
        scope text not null,
        idempotency_key text not null,
        operation text not null,
        request_hash text not null,
        response jsonb not null,
        created_at timestamptz not null default now(),
        constraint idempotency_keys_pkey primary key (scope, idempotency_key)
      )`);
    this.addSql(`create index idempotency_keys_created_idx on pricing.idempotency_keys (created_at)`);
  }

  override down(): void {
    this.addSql(`drop table pricing.idempotency_keys`);
  }
}
