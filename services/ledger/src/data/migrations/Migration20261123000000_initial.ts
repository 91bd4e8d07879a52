import { Migration } from "@tollgate/db";
import { LEDGER_FUNCTIONS } from "./ledger-functions.sql.js";

/**
 * The ledger's tables. Balances are the sum of pool balances; every change to
 * a pool balance is a journal entry whose lines sum to zero. The hot path
 * (authorize, charge, release) runs as one SQL function call per request:
 * see ledger-functions.sql.ts.
 */
export class Migration20261123000000_initial extends Migration {
  override name = "Migration20261123000000_initial";

  override up(): void {
    this.addSql(`
      create table ledger.accounts (
        account_id text primary key,
        plan_id text not null,
        plan_version bigint not null,
        cycle_start timestamptz not null,
        cycle_end timestamptz not null,
        created_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table ledger.balances (
        account_id text not null references ledger.accounts (account_id),
        unit text not null check (unit in ('credits', 'tool_runs', 'usd')),
        held_micros bigint not null default 0 check (held_micros >= 0),
        negative_limit_micros bigint not null default 0 check (negative_limit_micros >= 0),
        low_credit_limit_micros bigint not null default 0,
        crossed_percents integer[] not null default '{}',
        primary key (account_id, unit)
      )`);
    this.addSql(`
      create table ledger.pools (
        pool_id uuid primary key default gen_random_uuid(),
        account_id text not null references ledger.accounts (account_id),
        unit text not null,
        kind text not null check (kind in ('monthly', 'bonus', 'add_on', 'free_grant', 'spend_cap')),
        priority integer not null default 0,
        expires_at timestamptz,
        balance_micros bigint not null,
        granted_micros bigint not null check (granted_micros >= 0),
        closed boolean not null default false,
        grant_key text unique,
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index pools_account_idx on ledger.pools (account_id, unit) where not closed`);
    this.addSql(`
      create table ledger.holds (
        hold_id uuid primary key default gen_random_uuid(),
        account_id text not null references ledger.accounts (account_id),
        unit text not null,
        bucket text not null,
        amount_micros bigint not null check (amount_micros >= 0),
        charged_micros bigint not null default 0 check (charged_micros >= 0),
        status text not null check (status in ('open', 'charged', 'released', 'expired')),
        expires_at timestamptz not null,
        created_at timestamptz not null default now(),
        closed_at timestamptz,
        attribution jsonb not null default '{}',
        rate_table_version bigint not null default 0
      )`);
    this.addSql(`create index holds_open_expiry_idx on ledger.holds (expires_at) where status = 'open'`);
    // Lazy expiry on every write looks only at the account's open holds, however long its history.
    this.addSql(`create index holds_open_account_idx on ledger.holds (account_id, unit, expires_at) where status = 'open'`);
    this.addSql(`create index holds_account_idx on ledger.holds (account_id, created_at desc)`);
    this.addSql(`
      create table ledger.entries (
        entry_id bigserial primary key,
        account_id text not null references ledger.accounts (account_id),
        kind text not null check (kind in ('grant', 'charge', 'adjust', 'expire', 'reset')),
        hold_id uuid references ledger.holds (hold_id),
        unit text not null,
        bucket text not null default '',
        amount_micros bigint not null,
        uncollected_micros bigint not null default 0 check (uncollected_micros >= 0),
        attribution jsonb not null default '{}',
        rate_table_version bigint not null default 0,
        reason text not null default '',
        actor text not null default '',
        trace_id text not null default '',
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index entries_account_idx on ledger.entries (account_id, entry_id desc)`);
    this.addSql(`create index entries_hold_idx on ledger.entries (hold_id) where hold_id is not null`);
    this.addSql(`
      create table ledger.lines (
        entry_id bigint not null references ledger.entries (entry_id),
        line_no integer not null,
        ledger_account text not null,
        pool_id uuid references ledger.pools (pool_id),
        amount_micros bigint not null,
        primary key (entry_id, line_no)
      )`);
    this.addSql(`create index lines_pool_idx on ledger.lines (pool_id) where pool_id is not null`);
    this.addSql(`
      create table ledger.idempotency_keys (
        account_id text not null,
        idempotency_key text not null,
        operation text not null,
        request_hash text not null,
        response jsonb not null,
        created_at timestamptz not null default now(),
        primary key (account_id, idempotency_key)
      )`);
    this.addSql(`create index idempotency_keys_created_idx on ledger.idempotency_keys (created_at)`);
    this.addSql(`
      create table ledger.outbox (
        id bigserial primary key,
        sequence bigint unique,
        account_id text not null,
        kind text not null,
        payload jsonb not null,
        traceparent text not null default '',
        created_at timestamptz not null default now()
      )`);
    this.addSql(`create index outbox_unsequenced_idx on ledger.outbox (id) where sequence is null`);
    this.addSql(`create sequence ledger.outbox_sequence`);
    for (const statement of LEDGER_FUNCTIONS) this.addSql(statement);
  }
}
