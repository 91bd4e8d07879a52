import { Migration } from "@tollgate/db";

/**
 * A resent delivery gets its retries afresh: the attempts it had made when it
 * was resent are remembered, and its backoff and dead letter count from
 * there. `attempts` itself keeps counting (a claim is named by it). Rows from
 * before this migration have 0, as if never resent.
 */
export class Migration20261221100000_delivery_resend extends Migration {
  override name = "Migration20261221100000_delivery_resend";

  override up(): void {
    this.addSql(`alter table notifications.deliveries add column attempts_before_resend integer not null default 0`);
  }

  override down(): void {
    this.addSql(`alter table notifications.deliveries drop column attempts_before_resend`);
  }
}
