import { Migration } from "@tollgate/db";

/**
 * The pool triggers of earlier releases (spend cap reached, room exhausted)
 * decide in their `when` clause that a state-store transaction is not theirs,
 * instead of calling their PL/pgSQL function to return at once: the room
 * trigger was queued for every charged pool and called once per pool at
 * commit. A ledger of an earlier release never sets `tollgate.commit_rules`,
 * so its writes still fire both, as `Migration20261202100000_commit_rules`
 * arranged; the functions keep their own guard.
 */
const OURS = `current_setting('tollgate.commit_rules', true) is distinct from 'app'`;

export class Migration20261203200000_quiet_pool_triggers extends Migration {
  override name = "Migration20261203200000_quiet_pool_triggers";

  override up(): void {
    this.addSql(`drop trigger pools_room_exhausted on ledger.pools`);
    this.addSql(`create constraint trigger pools_room_exhausted after update of balance_micros on ledger.pools
      deferrable initially deferred
      for each row when (new.balance_micros < old.balance_micros and ${OURS})
      execute function ledger.notify_room_exhausted()`);
    this.addSql(`drop trigger pools_spend_cap_reached on ledger.pools`);
    this.addSql(`create trigger pools_spend_cap_reached after update of balance_micros on ledger.pools
      for each row when (new.kind = 'spend_cap' and not new.closed and new.balance_micros <= 0 and old.balance_micros > 0 and ${OURS})
      execute function ledger.spend_cap_reached()`);
  }

  override down(): void {
    this.addSql(`drop trigger pools_room_exhausted on ledger.pools`);
    this.addSql(`create constraint trigger pools_room_exhausted after update of balance_micros on ledger.pools
      deferrable initially deferred
      for each row when (new.balance_micros < old.balance_micros)
      execute function ledger.notify_room_exhausted()`);
    this.addSql(`drop trigger pools_spend_cap_reached on ledger.pools`);
    this.addSql(`create trigger pools_spend_cap_reached after update of balance_micros on ledger.pools
      for each row when (new.kind = 'spend_cap' and not new.closed and new.balance_micros <= 0 and old.balance_micros > 0)
      execute function ledger.spend_cap_reached()`);
  }
}
