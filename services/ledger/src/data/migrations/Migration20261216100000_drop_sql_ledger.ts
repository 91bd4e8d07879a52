import { Migration } from "@tollgate/db";

/**
 * The PL/pgSQL ledger of earlier releases goes (docs/operations.md, "Rolling
 * deploys and the ledger's SQL functions"). Every ledger write has gone
 * through the TypeScript state machine and the state store since the release
 * before this one, so the oldest ledger that may run beside this schema — a
 * rolling deploy or a rollback of one release — calls none of these:
 *
 * - the pool triggers `pools_spend_cap_reached` and `pools_room_exhausted`,
 *   quiet for state-store transactions since
 *   `Migration20261203200000_quiet_pool_triggers`, and their functions;
 * - `lines_account`, which filled a journal line's account for functions that
 *   did not write it (`Migration20261202200000_account_keys`);
 * - the hot path, sweepers and metering of earlier releases.
 *
 * Kept: `ledger.sequence_outbox()` (the event feed) and the budgets'
 * `budgets_exhausted` trigger (hard budgets used up stop Meter streams).
 *
 * `pools_grant_key_key` now carries the account, as every other key does
 * (docs/scaling.md). Grant keys name their account already (`grant:<account>:`,
 * `monthly:<account>:`), so no two pools that were distinct before collide;
 * the old key was global only because those grant functions inserted with
 * `on conflict (grant_key)`.
 *
 * Nothing here is restored by `down`: no ledger that can run on this schema
 * needs it. A function is dropped by name whatever arguments it was last
 * created with (several were recreated with new ones over the releases).
 */
export const DROPPED_FUNCTIONS = [
  "adjust", "apply_batch", "authorize", "auto_reload", "charge", "expire_holds", "expire_pools", "grant", "grant_pool", "line_account",
  "lock_balance", "meter_work", "notify_room_exhausted", "open_account", "release", "replayed", "resume_work", "spend_cap_reached",
  "start_work", "sweep_expired_holds", "sweep_expired_pools", "total_balance",
];

export class Migration20261216100000_drop_sql_ledger extends Migration {
  override name = "Migration20261216100000_drop_sql_ledger";

  override up(): void {
    this.addSql(`drop trigger if exists pools_spend_cap_reached on ledger.pools`);
    this.addSql(`drop trigger if exists pools_room_exhausted on ledger.pools`);
    this.addSql(`drop trigger if exists lines_account on ledger.lines`);
    this.addSql(`
      do $$
      declare
        f regprocedure;
      begin
        for f in select p.oid::regprocedure from pg_proc p
                  where p.pronamespace = 'ledger'::regnamespace
                    and p.proname = any(array['${DROPPED_FUNCTIONS.join("', '")}'])
        loop
          execute format('drop function %s', f);
        end loop;
      end $$`);
    this.addSql(`alter table ledger.pools drop constraint pools_grant_key_key`);
    this.addSql(`alter table ledger.pools add constraint pools_grant_key_key unique (account_id, grant_key)`);
  }

  override down(): void {
    this.addSql(`alter table ledger.pools drop constraint pools_grant_key_key`);
    this.addSql(`alter table ledger.pools add constraint pools_grant_key_key unique (grant_key)`);
  }
}
