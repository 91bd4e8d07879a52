/** The channel a commit notifies when a hard budget's used reaches its limit (see BUDGETS). */
export const BUDGET_EXHAUSTED_CHANNEL = "ledger_budget_exhausted";

/**
 * Budgets: one row per account, unit and attribution scope, read and written
 * under the account's lock with the rest of its state (data/budgets.ts). A
 * hard budget whose used reaches its limit (a charge, or support lowering
 * the limit) notifies `ledger_budget_exhausted` with `{"account_id",
 * "budget_id", "unit", "scope", "scope_id"}` when the transaction commits:
 * Meter streams covered by it stop, on whichever replica holds them.
 */
export const BUDGETS = [
  `
create table ledger.budgets (
  account_id text not null references ledger.accounts (account_id),
  budget_id text not null,
  unit text not null,
  scope text not null check (scope in ('task', 'agent', 'user', 'workspace', 'workspace_group')),
  scope_id text not null,
  limit_micros bigint not null check (limit_micros >= 0),
  mode text not null check (mode in ('soft', 'hard')),
  per_cycle boolean not null,
  threshold_percents integer[] not null default '{}',
  used_micros bigint not null default 0,
  crossed_percents integer[] not null default '{}',
  period_start timestamptz,
  reason text not null,
  actor text not null,
  updated_at timestamptz not null,
  constraint budgets_pkey primary key (account_id, budget_id)
)`,
  `
create function ledger.notify_budget_exhausted() returns trigger
language plpgsql as $$
begin
  perform pg_notify('${BUDGET_EXHAUSTED_CHANNEL}', json_build_object(
    'account_id', new.account_id, 'budget_id', new.budget_id, 'unit', new.unit, 'scope', new.scope, 'scope_id', new.scope_id)::text);
  return null;
end $$`,
  `create trigger budgets_exhausted after insert or update on ledger.budgets
     for each row when (new.mode = 'hard' and new.used_micros >= new.limit_micros)
     execute function ledger.notify_budget_exhausted()`,
];
