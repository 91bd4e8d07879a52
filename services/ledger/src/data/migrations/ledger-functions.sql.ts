/**
 * The ledger's hot path as SQL functions: each request is one statement, one
 * round trip and one transaction that checks, updates and journals together.
 *
 * Locking order, everywhere: the (account, unit) balance row first, then the
 * hold, then pools. The balance row serialises all writes of one account and
 * unit, which is what keeps a balance from passing its negative limit and
 * makes idempotency checks race-free.
 *
 * Errors are raised as 'REASON: message' (SQLSTATE P0001) and translated in
 * one place (@tollgate/errors translateDatabaseError).
 */
export const LEDGER_FUNCTIONS = [
  `
create function ledger.replayed(p_account text, p_key text, p_hash text) returns jsonb
language plpgsql as $$
declare
  v_hash text;
  v_response jsonb;
begin
  select request_hash, response into v_hash, v_response
    from ledger.idempotency_keys where account_id = p_account and idempotency_key = p_key;
  if not found then
    return null;
  end if;
  if v_hash <> p_hash then
    raise exception 'IDEMPOTENCY_KEY_REUSED: %', p_key;
  end if;
  return v_response || jsonb_build_object('replayed', true);
end $$`,
  `
create function ledger.lock_balance(p_account text, p_unit text) returns ledger.balances
language plpgsql as $$
declare
  v_balance ledger.balances;
begin
  select * into v_balance from ledger.balances
   where account_id = p_account and unit = p_unit for update;
  if not found then
    raise exception 'NOT_FOUND: balance % %', p_account, p_unit;
  end if;
  return v_balance;
end $$`,
  `
create function ledger.total_balance(p_account text, p_unit text) returns bigint
language sql stable as $$
  select coalesce(sum(balance_micros), 0)::bigint from ledger.pools
   where account_id = p_account and unit = p_unit and not closed
     and (expires_at is null or expires_at > now())
$$`,
  // Expired holds of one account and unit give their remaining amount back.
  // Callers hold the balance row lock.
  `
create function ledger.expire_holds(p_account text, p_unit text) returns bigint
language plpgsql as $$
declare
  v_returned bigint;
begin
  with expired as (
    update ledger.holds set status = 'expired', closed_at = now()
     where account_id = p_account and unit = p_unit and status = 'open' and expires_at <= now()
    returning greatest(amount_micros - charged_micros, 0) as remaining
  )
  select coalesce(sum(remaining), 0) into v_returned from expired;
  if v_returned > 0 then
    update ledger.balances set held_micros = held_micros - v_returned
     where account_id = p_account and unit = p_unit;
  end if;
  return v_returned;
end $$`,
  // Safe on several replicas: balances locked by someone else are skipped.
  `
create function ledger.sweep_expired_holds(p_limit integer) returns integer
language plpgsql as $$
declare
  v_row record;
  v_count integer := 0;
begin
  for v_row in
    select distinct account_id, unit from ledger.holds
     where status = 'open' and expires_at <= now() limit p_limit
  loop
    perform 1 from ledger.balances
      where account_id = v_row.account_id and unit = v_row.unit for update skip locked;
    if found then
      perform ledger.expire_holds(v_row.account_id, v_row.unit);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end $$`,
  `
create function ledger.grant_pool(
  p_account text, p_unit text, p_kind text, p_amount bigint, p_expires timestamptz, p_priority integer,
  p_grant_key text, p_reason text, p_actor text, p_trace_id text
) returns jsonb
language plpgsql as $$
declare
  v_pool uuid;
  v_entry bigint;
begin
  if p_amount < 0 then
    raise exception 'INVALID_AMOUNT: a grant must not be negative';
  end if;
  insert into ledger.pools (account_id, unit, kind, priority, expires_at, balance_micros, granted_micros, grant_key)
  values (p_account, p_unit, p_kind, p_priority, p_expires, p_amount, p_amount, p_grant_key)
  on conflict (grant_key) do nothing
  returning pool_id into v_pool;
  if v_pool is null then
    select pool_id into v_pool from ledger.pools where grant_key = p_grant_key;
    return jsonb_build_object('pool_id', v_pool, 'entry_id', '0', 'already_granted', true);
  end if;
  insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor, trace_id)
  values (p_account, 'grant', p_unit, p_amount, p_reason, p_actor, p_trace_id)
  returning entry_id into v_entry;
  insert into ledger.lines values
    (v_entry, 1, 'pool:' || v_pool, v_pool, p_amount),
    (v_entry, 2, 'grants:' || p_account, null, -p_amount);
  return jsonb_build_object('pool_id', v_pool, 'entry_id', v_entry::text);
end $$`,
  // Pools whose expiry has passed close with an 'expire' entry (their balance
  // goes back to the grants account) and an outbox event. Callers hold no
  // balance locks; this takes them in the usual order.
  `
create function ledger.expire_pools(p_account text) returns integer
language plpgsql as $$
declare
  v_candidate record;
  v_pool ledger.pools;
  v_entry bigint;
  v_count integer := 0;
begin
  for v_candidate in
    select pool_id, unit from ledger.pools
     where account_id = p_account and not closed and kind not in ('monthly', 'spend_cap') and expires_at <= now()
     order by unit, pool_id
  loop
    perform ledger.lock_balance(p_account, v_candidate.unit);
    select * into v_pool from ledger.pools where pool_id = v_candidate.pool_id and not closed for update;
    continue when not found;
    insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor)
    values (p_account, 'expire', v_pool.unit, v_pool.balance_micros, 'pool expired', 'system')
    returning entry_id into v_entry;
    if v_pool.balance_micros <> 0 then
      insert into ledger.lines values
        (v_entry, 1, 'pool:' || v_pool.pool_id, v_pool.pool_id, -v_pool.balance_micros),
        (v_entry, 2, 'grants:' || p_account, null, v_pool.balance_micros);
    end if;
    update ledger.pools set balance_micros = 0, closed = true where pool_id = v_pool.pool_id;
    insert into ledger.outbox (account_id, kind, payload)
    values (p_account, 'pool_expired', jsonb_build_object(
      'pool_id', v_pool.pool_id, 'kind', v_pool.kind, 'unit', v_pool.unit, 'expired_micros', v_pool.balance_micros::text));
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$`,
  // Replaced by the version in group-commit.sql.ts, which never waits for a balance row.
  `
create function ledger.sweep_expired_pools(p_limit integer) returns integer
language plpgsql as $$
declare
  v_account text;
  v_count integer := 0;
begin
  for v_account in
    select distinct account_id from ledger.pools
     where not closed and kind not in ('monthly', 'spend_cap') and expires_at <= now() limit p_limit
  loop
    v_count := v_count + ledger.expire_pools(v_account);
  end loop;
  return v_count;
end $$`,
  // Opens an account's current cycle, or rolls it over: balance rows per unit
  // with the plan's limits, the monthly allotment granted once per cycle, the
  // previous cycle's monthly pools closed (unused allotment lapses; a negative
  // balance is carried into the new allotment), threshold state reset, expired
  // pools closed. Idempotent; a late or repeated call changes nothing more.
  `
create function ledger.open_account(
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
  select * into v_account from ledger.accounts where account_id = p_account for update;
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
  `
create function ledger.authorize(
  p_account text, p_unit text, p_bucket text, p_amount bigint, p_key text, p_hash text,
  p_ttl_ms bigint, p_attribution jsonb, p_rate_version bigint
) returns jsonb
language plpgsql as $$
declare
  v_held bigint;
  v_available bigint;
  v_hold uuid;
  v_expires timestamptz;
  v_response jsonb;
begin
  v_held := (ledger.lock_balance(p_account, p_unit)).held_micros;
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  -- Expired holds give back what they still reserve (the balance row is locked).
  v_held := v_held - ledger.expire_holds(p_account, p_unit);
  v_available := ledger.total_balance(p_account, p_unit) - v_held;
  if v_available < p_amount then
    v_response := jsonb_build_object('allowed', false, 'available_micros', v_available::text, 'reason',
      case when p_unit = 'usd' then 'SPEND_CAP_REACHED'
           when exists (select 1 from ledger.pools where account_id = p_account and unit = p_unit and kind = 'free_grant' and closed)
            and not exists (select 1 from ledger.pools where account_id = p_account and unit = p_unit and not closed and kind <> 'free_grant')
           then 'FREE_CREDITS_EXPIRED' else 'INSUFFICIENT_CREDITS' end);
  else
    v_expires := now() + make_interval(secs => p_ttl_ms / 1000.0);
    insert into ledger.holds (account_id, unit, bucket, amount_micros, status, expires_at, attribution, rate_table_version)
    values (p_account, p_unit, p_bucket, p_amount, 'open', v_expires, p_attribution, p_rate_version)
    returning hold_id into v_hold;
    update ledger.balances set held_micros = held_micros + p_amount
     where account_id = p_account and unit = p_unit;
    v_response := jsonb_build_object(
      'allowed', true, 'hold_id', v_hold, 'amount_micros', p_amount::text,
      'available_micros', (v_available - p_amount)::text, 'expires_at', v_expires);
  end if;
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'authorize', p_hash, v_response);
  return v_response;
end $$`,
  `
create function ledger.charge(
  p_account text, p_hold uuid, p_unit text, p_bucket text, p_amount bigint, p_final boolean,
  p_key text, p_hash text, p_attribution jsonb, p_rate_version bigint, p_order text[],
  p_thresholds integer[], p_traceparent text, p_trace_id text
) returns jsonb
language plpgsql as $$
declare
  v_balance ledger.balances;
  v_hold ledger.holds;
  v_response jsonb;
  v_hold_remaining bigint := 0;
  v_total bigint;
  v_room bigint;
  v_collect bigint;
  v_uncollected bigint;
  v_entry bigint;
  v_left bigint;
  v_take bigint;
  v_line integer := 0;
  v_pool record;
  v_first_pool uuid;
  v_consumed bigint := 0;
  v_released bigint := 0;
  v_allotted bigint;
  v_used bigint;
  v_threshold integer;
  v_crossed integer[];
  v_cycle timestamptz;
  v_attribution jsonb := p_attribution;
  v_reloaded bigint := 0;
  v_reloadable boolean := false;
begin
  if p_amount < 0 then
    raise exception 'INVALID_AMOUNT: a charge must not be negative';
  end if;
  v_balance := ledger.lock_balance(p_account, p_unit);
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  if ledger.expire_holds(p_account, p_unit) > 0 then
    select * into v_balance from ledger.balances where account_id = p_account and unit = p_unit;
  end if;

  if p_hold is not null then
    select * into v_hold from ledger.holds where hold_id = p_hold for update;
    if not found or v_hold.account_id <> p_account then
      raise exception 'NOT_FOUND: hold %', p_hold;
    end if;
    if v_hold.unit <> p_unit then
      raise exception 'UNIT_MISMATCH: hold % is held in %, the usage is priced in %', p_hold, v_hold.unit, p_unit;
    end if;
    if v_hold.status in ('charged', 'released') then
      raise exception 'HOLD_CLOSED: hold % is already %', p_hold, v_hold.status;
    end if;
    if v_hold.status = 'open' then
      v_hold_remaining := greatest(v_hold.amount_micros - v_hold.charged_micros, 0);
    end if;
    -- A charge on a hold is attributed like the hold, refined by what the charge adds.
    v_attribution := v_hold.attribution || p_attribution;
  end if;

  -- Collect as much as keeps (balance - other holds) at or above -negative_limit.
  -- The live pools' balance and allotment, in one pass.
  select coalesce(sum(balance_micros), 0), coalesce(sum(granted_micros), 0) into v_total, v_allotted
    from ledger.pools
   where account_id = p_account and unit = p_unit and not closed and (expires_at is null or expires_at > now());
  v_room := v_total - (v_balance.held_micros - v_hold_remaining) + v_balance.negative_limit_micros;
  v_collect := least(p_amount, greatest(v_room, 0));
  v_uncollected := p_amount - v_collect;

  insert into ledger.entries (account_id, kind, hold_id, unit, bucket, amount_micros, uncollected_micros, attribution, rate_table_version, trace_id)
  values (p_account, 'charge', p_hold, p_unit, p_bucket, v_collect, v_uncollected, v_attribution, p_rate_version, p_trace_id)
  returning entry_id into v_entry;

  -- Draw-down order: monthly first, then the plan's order of kinds, then
  -- priority, then the pool that expires first.
  v_left := v_collect;
  for v_pool in
    select pool_id, balance_micros, kind, reload_to_micros from ledger.pools
     where account_id = p_account and unit = p_unit and not closed
       and (expires_at is null or expires_at > now())
     order by (kind in ('monthly', 'spend_cap')) desc, array_position(p_order, kind) nulls last, priority,
              expires_at nulls last, created_at
     for update
  loop
    if v_first_pool is null then
      v_first_pool := v_pool.pool_id;
    end if;
    exit when v_left = 0;
    v_take := least(v_left, greatest(v_pool.balance_micros, 0));
    if v_take > 0 then
      v_reloadable := v_reloadable or (v_pool.kind = 'add_on' and v_pool.reload_to_micros > 0);
      update ledger.pools set balance_micros = balance_micros - v_take where pool_id = v_pool.pool_id;
      v_line := v_line + 1;
      insert into ledger.lines values (v_entry, v_line, 'pool:' || v_pool.pool_id, v_pool.pool_id, -v_take);
      v_left := v_left - v_take;
    end if;
  end loop;
  if v_left > 0 then
    -- What remains is an overdraft within the negative limit; the first pool
    -- in draw-down order carries it (the next cycle's allotment pays it).
    if v_first_pool is null then
      raise exception 'NO_POOL: account % has no % pool to charge', p_account, p_unit;
    end if;
    update ledger.pools set balance_micros = balance_micros - v_left where pool_id = v_first_pool;
    v_line := v_line + 1;
    insert into ledger.lines values (v_entry, v_line, 'pool:' || v_first_pool, v_first_pool, -v_left);
  end if;
  if v_collect > 0 then
    v_line := v_line + 1;
    insert into ledger.lines values (v_entry, v_line, 'usage:' || p_account || ':' || p_bucket, null, v_collect);
  end if;

  if p_hold is not null then
    v_consumed := least(p_amount, v_hold_remaining);
    if p_final then
      v_released := v_hold_remaining - v_consumed;
    end if;
    update ledger.holds
       set charged_micros = charged_micros + v_collect,
           status = case when p_final and status = 'open' then 'charged' else status end,
           closed_at = case when p_final and status = 'open' then now() else closed_at end
     where hold_id = p_hold;
    update ledger.balances set held_micros = held_micros - v_consumed - v_released
     where account_id = p_account and unit = p_unit;
  end if;

  -- An add-on pool with auto reload that this charge drew from tops itself up (ledger.auto_reload).
  if v_reloadable then
    v_reloaded := ledger.auto_reload(p_account, p_unit, p_traceparent);
    v_total := v_total + v_reloaded;
    v_allotted := v_allotted + v_reloaded;
  end if;

  -- Threshold crossings: once per threshold per cycle, in this transaction.
  v_crossed := v_balance.crossed_percents;
  if v_allotted > 0 and v_collect > 0 then
    v_used := v_allotted - (v_total - v_collect);
    select cycle_start into v_cycle from ledger.accounts where account_id = p_account;
    foreach v_threshold in array p_thresholds loop
      if v_used * 100 >= v_threshold::bigint * v_allotted and not (v_threshold = any(v_crossed)) then
        insert into ledger.outbox (account_id, kind, payload, traceparent)
        values (p_account, 'threshold_crossed', jsonb_build_object(
          'unit', p_unit, 'threshold_percent', v_threshold,
          'percent_used', least(v_used * 100 / v_allotted, 100000), 'cycle', v_cycle), p_traceparent);
        v_crossed := v_crossed || v_threshold;
      end if;
    end loop;
    if v_crossed is distinct from v_balance.crossed_percents then
      update ledger.balances set crossed_percents = v_crossed where account_id = p_account and unit = p_unit;
    end if;
  end if;

  v_response := jsonb_build_object(
    'entry_id', v_entry::text,
    'charged_micros', v_collect::text,
    'uncollected_micros', v_uncollected::text,
    'released_micros', v_released::text,
    'balance_micros', (v_total - v_collect)::text,
    'proceed', v_uncollected = 0 and v_room - v_collect > 0);
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'charge', p_hash, v_response);
  return v_response;
end $$`,
  `
create function ledger.release(p_account text, p_hold uuid, p_key text, p_hash text) returns jsonb
language plpgsql as $$
declare
  v_unit text;
  v_hold ledger.holds;
  v_released bigint := 0;
  v_response jsonb;
begin
  select unit into v_unit from ledger.holds where hold_id = p_hold and account_id = p_account;
  if not found then
    raise exception 'NOT_FOUND: hold %', p_hold;
  end if;
  perform ledger.lock_balance(p_account, v_unit);
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  perform ledger.expire_holds(p_account, v_unit);
  select * into v_hold from ledger.holds where hold_id = p_hold for update;
  if v_hold.status = 'open' then
    v_released := greatest(v_hold.amount_micros - v_hold.charged_micros, 0);
    update ledger.holds set status = 'released', closed_at = now() where hold_id = p_hold;
    update ledger.balances set held_micros = held_micros - v_released
     where account_id = p_account and unit = v_unit;
    v_hold.status := 'released';
  end if;
  v_response := jsonb_build_object('released_micros', v_released::text, 'status', v_hold.status);
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'release', p_hash, v_response);
  return v_response;
end $$`,
  `
create function ledger.grant(
  p_account text, p_unit text, p_kind text, p_amount bigint, p_expires timestamptz, p_priority integer,
  p_reason text, p_actor text, p_key text, p_hash text, p_trace_id text,
  p_reload_below bigint, p_reload_to bigint, p_reload_cooldown_ms bigint
) returns jsonb
language plpgsql as $$
declare
  v_response jsonb;
begin
  perform ledger.lock_balance(p_account, p_unit);
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  v_response := ledger.grant_pool(p_account, p_unit, p_kind, p_amount, p_expires, p_priority,
    'grant:' || p_account || ':' || p_key, p_reason, p_actor, p_trace_id);
  if p_reload_to > 0 then
    update ledger.pools
       set reload_below_micros = p_reload_below, reload_to_micros = p_reload_to, reload_cooldown_ms = p_reload_cooldown_ms
     where pool_id = (v_response->>'pool_id')::uuid;
  end if;
  v_response := v_response || jsonb_build_object('balance_micros', ledger.total_balance(p_account, p_unit)::text);
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'grant', p_hash, v_response);
  return v_response;
end $$`,
  // A support correction: a compensating entry on one pool (signed amount),
  // never taking the balance below the negative limit.
  `
create function ledger.adjust(
  p_account text, p_pool uuid, p_amount bigint, p_reason text, p_actor text, p_key text, p_hash text, p_trace_id text
) returns jsonb
language plpgsql as $$
declare
  v_unit text;
  v_balance ledger.balances;
  v_entry bigint;
  v_total bigint;
  v_response jsonb;
begin
  select unit into v_unit from ledger.pools where pool_id = p_pool and account_id = p_account;
  if not found then
    raise exception 'NOT_FOUND: pool %', p_pool;
  end if;
  v_balance := ledger.lock_balance(p_account, v_unit);
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  v_total := ledger.total_balance(p_account, v_unit) + p_amount;
  if v_total < -v_balance.negative_limit_micros then
    raise exception 'ADJUSTMENT_BELOW_LIMIT: the adjustment would take the balance to % micro-units, below the negative limit', v_total;
  end if;
  insert into ledger.entries (account_id, kind, unit, amount_micros, reason, actor, trace_id)
  values (p_account, 'adjust', v_unit, p_amount, p_reason, p_actor, p_trace_id)
  returning entry_id into v_entry;
  insert into ledger.lines values
    (v_entry, 1, 'pool:' || p_pool, p_pool, p_amount),
    (v_entry, 2, 'adjustments:' || p_account, null, -p_amount);
  update ledger.pools set balance_micros = balance_micros + p_amount where pool_id = p_pool;
  v_response := jsonb_build_object('entry_id', v_entry::text, 'balance_micros', v_total::text);
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'adjust', p_hash, v_response);
  return v_response;
end $$`,
  // Gives outbox rows their sequence numbers in commit order. Only one
  // sequencer runs at a time (advisory lock), so a reader that has seen
  // sequence N has seen every committed row below N.
  `
create function ledger.sequence_outbox() returns integer
language plpgsql as $$
declare
  v_count integer;
begin
  if not pg_try_advisory_xact_lock(hashtext('ledger.sequence_outbox')) then
    return 0;
  end if;
  update ledger.outbox o set sequence = s.sequence
    from (select id, nextval('ledger.outbox_sequence') as sequence
            from (select id from ledger.outbox where sequence is null order by id for update) pending) s
   where o.id = s.id;
  get diagnostics v_count = row_count;
  return v_count;
end $$`,
];
