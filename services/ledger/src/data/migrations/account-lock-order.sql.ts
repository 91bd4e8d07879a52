/**
 * One lock order for an account's rows: balance rows in (account, unit)
 * order, and the accounts row only in modes that do not conflict with the
 * FOR KEY SHARE a foreign key check takes on it.
 *
 * Before: opening an account locked its accounts row FOR UPDATE and then its
 * balance rows, while a charge (alone or in a group-commit batch) held a
 * balance row and then needed FOR KEY SHARE on the accounts row for the
 * foreign keys of the hold, entry or pool it wrote: a deadlock right after a
 * restart, when every account is reopened under load. Now the opening takes
 * the accounts row FOR NO KEY UPDATE (which still serialises two openings of
 * one account, and is what its UPDATE of non-key columns takes anyway), so
 * the only waits between the two are on balance rows, taken in one order.
 *
 * Replaces ledger.open_account (otherwise unchanged from ledger-functions.sql.ts).
 */
export const ACCOUNT_LOCK_ORDER_FUNCTIONS = [
  `
create or replace function ledger.open_account(
  p_account text, p_plan_id text, p_plan_version bigint, p_cycle_start timestamptz, p_cycle_end timestamptz,
  p_units jsonb, p_signup_grants jsonb
) returns jsonb
language plpgsql as $$
declare
  v_unit jsonb;
  v_grant jsonb;
  v_account ledger.accounts;
  v_rolled boolean := false;
  v_new_pool uuid;
  v_old record;
  v_entry bigint;
  v_cap ledger.pools;
  v_diff bigint;
begin
  insert into ledger.accounts (account_id, plan_id, plan_version, cycle_start, cycle_end)
  values (p_account, p_plan_id, p_plan_version, p_cycle_start, p_cycle_end)
  on conflict (account_id) do nothing;
  -- FOR NO KEY UPDATE, not FOR UPDATE: it serialises openings of one account but never blocks the
  -- FOR KEY SHARE that a charge's foreign keys take on this row while it holds a balance row.
  select * into v_account from ledger.accounts where account_id = p_account for no key update;
  if v_account.cycle_start < p_cycle_start then
    v_rolled := true;
  end if;
  update ledger.accounts
     set plan_id = p_plan_id, plan_version = p_plan_version,
         cycle_start = greatest(cycle_start, p_cycle_start),
         cycle_end = case when cycle_start < p_cycle_start then p_cycle_end else cycle_end end
   where account_id = p_account;

  for v_unit in select * from jsonb_array_elements(p_units) loop
    insert into ledger.balances (account_id, unit, negative_limit_micros, low_credit_limit_micros)
    values (p_account, v_unit->>'unit', (v_unit->>'negative_limit_micros')::bigint, (v_unit->>'low_credit_limit_micros')::bigint)
    on conflict (account_id, unit) do update
      set negative_limit_micros = excluded.negative_limit_micros,
          low_credit_limit_micros = excluded.low_credit_limit_micros;
    perform ledger.lock_balance(p_account, v_unit->>'unit');
    v_new_pool := null;
    if (v_unit->>'allotment_micros')::bigint > 0 and p_cycle_start >= v_account.cycle_start then
      v_new_pool := (ledger.grant_pool(
        p_account, v_unit->>'unit', coalesce(v_unit->>'kind', 'monthly'), (v_unit->>'allotment_micros')::bigint, p_cycle_end, 0,
        'monthly:' || p_account || ':' || (v_unit->>'unit') || ':' || p_cycle_start::text,
        case when v_unit->>'kind' = 'spend_cap' then 'monthly spend cap' else 'monthly allotment' end, 'system', '')->>'pool_id')::uuid;
    end if;
    -- A spend cap changed during the cycle: the cycle's cap pool follows it with an adjustment.
    if v_unit->>'kind' = 'spend_cap' and p_cycle_start >= v_account.cycle_start then
      select * into v_cap from ledger.pools
       where grant_key = 'monthly:' || p_account || ':' || (v_unit->>'unit') || ':' || p_cycle_start::text for update;
      if found and v_cap.granted_micros <> (v_unit->>'allotment_micros')::bigint then
        v_diff := (v_unit->>'allotment_micros')::bigint - v_cap.granted_micros;
        insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor)
        values (p_account, 'adjust', v_cap.unit, v_diff, 'spend cap changed', 'system')
        returning entry_id into v_entry;
        insert into ledger.lines values
          (v_entry, 1, 'pool:' || v_cap.pool_id, v_cap.pool_id, v_diff),
          (v_entry, 2, 'adjustments:' || p_account, null, -v_diff);
        update ledger.pools set balance_micros = balance_micros + v_diff, granted_micros = granted_micros + v_diff
         where pool_id = v_cap.pool_id;
      end if;
    end if;
    if v_rolled then
      update ledger.balances set crossed_percents = '{}' where account_id = p_account and unit = v_unit->>'unit';
      for v_old in
        select * from ledger.pools
         where account_id = p_account and unit = v_unit->>'unit' and kind in ('monthly', 'spend_cap') and not closed
           and pool_id is distinct from v_new_pool and expires_at <= p_cycle_start
         for update
      loop
        if v_old.balance_micros < 0 and v_new_pool is null then
          continue; -- nothing to carry the negative into: it stays where it is
        end if;
        if v_old.balance_micros <> 0 then
          insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor)
          values (p_account, 'reset', v_old.unit, v_old.balance_micros,
                  case when v_old.balance_micros > 0 then 'unused monthly allotment lapses' else 'negative balance carried into the new cycle' end,
                  'system')
          returning entry_id into v_entry;
          insert into ledger.lines values
            (v_entry, 1, 'pool:' || v_old.pool_id, v_old.pool_id, -v_old.balance_micros),
            (v_entry, 2,
             case when v_old.balance_micros > 0 then 'grants:' || p_account else 'pool:' || v_new_pool end,
             case when v_old.balance_micros > 0 then null else v_new_pool end,
             v_old.balance_micros);
          if v_old.balance_micros < 0 then
            update ledger.pools set balance_micros = balance_micros + v_old.balance_micros where pool_id = v_new_pool;
          end if;
        end if;
        update ledger.pools set balance_micros = 0, closed = true where pool_id = v_old.pool_id;
      end loop;
    end if;
  end loop;
  -- Sign-up grants: once per account (not per cycle), expiring.
  for v_grant in select * from jsonb_array_elements(p_signup_grants) loop
    perform ledger.lock_balance(p_account, v_grant->>'unit');
    perform ledger.grant_pool(
      p_account, v_grant->>'unit', 'free_grant', (v_grant->>'amount_micros')::bigint, (v_grant->>'expires_at')::timestamptz, 0,
      'signup:' || p_account || ':' || (v_grant->>'unit'), 'sign-up grant', 'system', '');
  end loop;
  perform ledger.expire_pools(p_account);
  return jsonb_build_object('rolled', v_rolled, 'cycle_start', greatest(v_account.cycle_start, p_cycle_start));
end $$`,
];
