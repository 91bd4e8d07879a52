import { Migration } from "@tollgate/db";
import { AUTO_RELOAD_FUNCTIONS } from "./auto-reload.sql.js";

/** Add-on pools that reload themselves to a target when they run low, with a cool-down. */
export class Migration20261123040000_auto_reload extends Migration {
  override name = "Migration20261123040000_auto_reload";

  override up(): void {
    this.addSql(`alter table ledger.pools add column reload_below_micros bigint not null default 0 check (reload_below_micros >= 0)`);
    this.addSql(`alter table ledger.pools add column reload_to_micros bigint not null default 0 check (reload_to_micros >= reload_below_micros)`);
    this.addSql(`alter table ledger.pools add column reload_cooldown_ms bigint not null default 0 check (reload_cooldown_ms >= 0)`);
    this.addSql(`alter table ledger.pools add column reloaded_at timestamptz`);
    for (const statement of AUTO_RELOAD_FUNCTIONS) this.addSql(statement);
  }
}
