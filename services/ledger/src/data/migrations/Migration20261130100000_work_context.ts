import { Migration } from "@tollgate/db";

/**
 * Where a run or deployment runs (run location, inference source, compute
 * source) and whether the plan's eligibility rules meter it, decided once at
 * the start exactly as Authorize decides a request; and what its metered time
 * has been priced at so far (the running total is rounded once, each tick
 * charges the difference).
 */
export class Migration20261130100000_work_context extends Migration {
  override name = "Migration20261130100000_work_context";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column context jsonb not null default '{}'`);
    this.addSql(`alter table ledger.metered_work add column metered boolean not null default true`);
    // Seconds of active time (runs) or replica-seconds (deployments) priced so far, and their price.
    this.addSql(`alter table ledger.metered_work add column priced_quantity bigint not null default 0 check (priced_quantity >= 0)`);
    this.addSql(`alter table ledger.metered_work add column priced_micros bigint not null default 0 check (priced_micros >= 0)`);
  }
}
