import { Migration } from "@tollgate/db";

/**
 * Where a run or deployment runs (run location, inference source, compute
 * source) and whether the plan's eligibility rules meter it, decided once at
 * the start exactly as Authorize decides a request.
 */
export class Migration20261130100000_work_context extends Migration {
  override name = "Migration20261130100000_work_context";

  override up(): void {
    this.addSql(`alter table ledger.metered_work add column context jsonb not null default '{}'`);
    this.addSql(`alter table ledger.metered_work add column metered boolean not null default true`);
  }
}
