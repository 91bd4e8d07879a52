import { Migration } from "@tollgate/db";

/**
 * Each banner remembers the ledger event that last put it up or took it down.
 * Every notifications replica reads the whole event stream, so one may handle
 * an event after another replica handled a later one: a change from an
 * earlier event than the banner's is not applied (a crossing handled late
 * would put back a banner that usage falling back already took down).
 * Banners from before this migration have 0: any event applies to them.
 */
export class Migration20261205100000_banner_event_sequence extends Migration {
  override name = "Migration20261205100000_banner_event_sequence";

  override up(): void {
    this.addSql(`alter table notifications.banners add column event_sequence bigint not null default 0`);
  }

  override down(): void {
    this.addSql(`alter table notifications.banners drop column event_sequence`);
  }
}
