/**
 * Auto reload, priced: ledger.auto_reload as in auto-reload.sql.ts, except
 * that its `pool_reloaded` event also carries `price_usd_micros` (the amount
 * × the pool's reload_price_usd_micros per whole unit, rounded half up) when
 * the pool has a price (set at Grant from the plan's add-on price).
 */
export const RELOAD_PRICE = [
  `alter table ledger.pools add column reload_price_usd_micros bigint check (reload_price_usd_micros >= 0)`,
  `
create or replace function ledger.auto_reload(p_account text, p_unit text, p_traceparent text) returns bigint
language plpgsql as $$
declare
  v_pool ledger.pools;
  v_amount bigint;
  v_entry bigint;
  v_total bigint := 0;
begin
  for v_pool in
    select * from ledger.pools
     where account_id = p_account and unit = p_unit and kind = 'add_on' and not closed
       and reload_to_micros > 0 and balance_micros < reload_below_micros
       and (reloaded_at is null or reloaded_at + make_interval(secs => reload_cooldown_ms / 1000.0) <= now())
     for update
  loop
    v_amount := v_pool.reload_to_micros - v_pool.balance_micros;
    insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor)
    values (p_account, 'grant', p_unit, v_amount, 'add-on auto reload', 'system')
    returning entry_id into v_entry;
    insert into ledger.lines values
      (v_entry, 1, 'pool:' || v_pool.pool_id, v_pool.pool_id, v_amount),
      (v_entry, 2, 'purchases:' || p_account, null, -v_amount);
    update ledger.pools set balance_micros = reload_to_micros, granted_micros = granted_micros + v_amount, reloaded_at = now()
     where pool_id = v_pool.pool_id;
    insert into ledger.outbox (account_id, kind, payload, traceparent)
    values (p_account, 'pool_reloaded',
            jsonb_build_object('pool_id', v_pool.pool_id, 'unit', p_unit, 'amount_micros', v_amount::text)
            || case when v_pool.reload_price_usd_micros is null then '{}'::jsonb
                    else jsonb_build_object('price_usd_micros',
                           round(v_amount::numeric * v_pool.reload_price_usd_micros / 1000000)::bigint::text) end,
            p_traceparent);
    v_total := v_total + v_amount;
  end loop;
  return v_total;
end $$`,
];
