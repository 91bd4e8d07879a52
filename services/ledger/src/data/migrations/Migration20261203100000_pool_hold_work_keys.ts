import { Migration } from "@tollgate/db";

/**
 * Pools, holds and metered work keyed by account, as the journal already is
 * (`Migration20261202200000_account_keys`).
 *
 * - `pools_pkey (account_id, pool_id)`: the state store reads every pool of
 *   a batch's accounts (`account_id = any(…)`, closed ones included, for
 *   grant keys and FREE_CREDITS_EXPIRED). The only index on `account_id`
 *   before was `pools_account_idx`, partial on `not closed`, which that read
 *   cannot use: it scanned the whole table, once per batch.
 * - `holds_pkey (account_id, hold_id)` and `metered_work_pkey (account_id,
 *   work_id)`: the same for holds and for runs and deployments.
 * - `pools_pool_idx`, `holds_hold_idx`, `metered_work_work_idx`: lookups by an
 *   id alone — the support search and reads that name only the id, and the
 *   SQL functions of earlier ledgers during a rolling deploy. Ids are UUIDs
 *   or caller-chosen per account, so these are not unique.
 * - Foreign keys that named a pool or a hold by its id alone now name it with
 *   its account: `lines (account_id, pool_id)` and `entries (account_id,
 *   hold_id)`. Both columns are filled on every row that names one.
 *
 * `pools_grant_key_key` stays as it is: the grant functions of earlier
 * ledgers insert with `on conflict (grant_key)`, which needs it.
 */
export class Migration20261203100000_pool_hold_work_keys extends Migration {
  override name = "Migration20261203100000_pool_hold_work_keys";

  override up(): void {
    this.addSql(`alter table ledger.lines drop constraint lines_pool_id_fkey`);
    this.addSql(`alter table ledger.entries drop constraint entries_hold_id_fkey`);

    this.addSql(`alter table ledger.pools drop constraint pools_pkey`);
    this.addSql(`alter table ledger.pools add constraint pools_pkey primary key (account_id, pool_id)`);
    this.addSql(`create index pools_pool_idx on ledger.pools (pool_id)`);

    this.addSql(`alter table ledger.holds drop constraint holds_pkey`);
    this.addSql(`alter table ledger.holds add constraint holds_pkey primary key (account_id, hold_id)`);
    this.addSql(`create index holds_hold_idx on ledger.holds (hold_id)`);

    this.addSql(`alter table ledger.metered_work drop constraint metered_work_pkey`);
    this.addSql(`alter table ledger.metered_work add constraint metered_work_pkey primary key (account_id, work_id)`);
    this.addSql(`create index metered_work_work_idx on ledger.metered_work (work_id)`);

    this.addSql(`alter table ledger.lines add constraint lines_pool_fkey foreign key (account_id, pool_id) references ledger.pools (account_id, pool_id) not valid`);
    this.addSql(`alter table ledger.lines validate constraint lines_pool_fkey`);
    this.addSql(`alter table ledger.entries add constraint entries_hold_fkey foreign key (account_id, hold_id) references ledger.holds (account_id, hold_id) not valid`);
    this.addSql(`alter table ledger.entries validate constraint entries_hold_fkey`);
  }

  override down(): void {
    this.addSql(`alter table ledger.lines drop constraint lines_pool_fkey`);
    this.addSql(`alter table ledger.entries drop constraint entries_hold_fkey`);
    this.addSql(`drop index ledger.metered_work_work_idx`);
    this.addSql(`alter table ledger.metered_work drop constraint metered_work_pkey`);
    this.addSql(`alter table ledger.metered_work add constraint metered_work_pkey primary key (work_id)`);
    this.addSql(`drop index ledger.holds_hold_idx`);
    this.addSql(`alter table ledger.holds drop constraint holds_pkey`);
    this.addSql(`alter table ledger.holds add constraint holds_pkey primary key (hold_id)`);
    this.addSql(`drop index ledger.pools_pool_idx`);
    this.addSql(`alter table ledger.pools drop constraint pools_pkey`);
    this.addSql(`alter table ledger.pools add constraint pools_pkey primary key (pool_id)`);
    this.addSql(`alter table ledger.entries add constraint entries_hold_id_fkey foreign key (hold_id) references ledger.holds (hold_id)`);
    this.addSql(`alter table ledger.lines add constraint lines_pool_id_fkey foreign key (pool_id) references ledger.pools (pool_id)`);
  }
}
