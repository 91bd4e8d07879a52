import { Migration } from "@tollgate/db";
import { METERED_TIME_FUNCTIONS } from "./metered-time.sql.js";

/**
 * Runs and deployments whose time is metered. `charged_until` is the instant
 * up to which time has been charged; for a run it restarts at every resume,
 * so idle and waiting time are never charged.
 */
export class Migration20261123030000_metered_time extends Migration {
  override name = "Migration20261123030000_metered_time";

  override up(): void {
    this.addSql(`
      create table ledger.metered_work (
        work_id text primary key,
        kind text not null check (kind in ('run', 'deployment')),
        account_id text not null references ledger.accounts (account_id),
        state text not null check (state in ('running', 'paused', 'finished', 'failed', 'cancelled', 'stopped', 'undeployed')),
        usage jsonb not null,
        replicas integer not null default 1 check (replicas >= 0),
        attribution jsonb not null default '{}',
        -- Millisecond precision, so the service can hand it back exactly.
        charged_until timestamptz(3) not null,
        active_ms bigint not null default 0,
        charged_micros bigint not null default 0,
        stop_reason text not null default '',
        endpoint text not null default '',
        created_at timestamptz not null default now(),
        ended_at timestamptz
      )`);
    this.addSql(`create index metered_work_running_idx on ledger.metered_work (charged_until) where state = 'running'`);
    for (const statement of METERED_TIME_FUNCTIONS) this.addSql(statement);
  }
}
