/**
 * Group commit: concurrent Authorize and Charge calls of one ledger process,
 * applied in one transaction (one round trip, one WAL flush).
 *
 * Each call runs in its own subtransaction, so a call that raises (a reused
 * idempotency key, a closed hold) is rolled back alone and reported in its
 * slot; the others commit. The caller keeps batches small (the subtransaction
 * cache of a backend holds 64) and sorted by (account, unit), so two batches
 * never wait on each other's balance rows in opposite orders.
 */
export const GROUP_COMMIT_FUNCTIONS = [
  `
create function ledger.apply_batch(p_calls jsonb) returns jsonb
language plpgsql as $$
declare
  v_call jsonb;
  v_results jsonb := '[]'::jsonb;
  v_result jsonb;
  v_state text;
  v_message text;
begin
  for v_call in select value from jsonb_array_elements(p_calls) loop
    begin
      if v_call->>'op' = 'authorize' then
        v_result := ledger.authorize(
          v_call->>'account', v_call->>'unit', v_call->>'bucket', (v_call->>'amount')::bigint, v_call->>'key',
          v_call->>'hash', (v_call->>'ttl_ms')::bigint, v_call->'attribution', (v_call->>'rate_version')::bigint);
      elsif v_call->>'op' = 'charge' then
        v_result := ledger.charge(
          v_call->>'account', (v_call->>'hold')::uuid, v_call->>'unit', v_call->>'bucket', (v_call->>'amount')::bigint,
          (v_call->>'final')::boolean, v_call->>'key', v_call->>'hash', v_call->'attribution',
          (v_call->>'rate_version')::bigint,
          array(select jsonb_array_elements_text(v_call->'order')),
          array(select jsonb_array_elements_text(v_call->'thresholds')::integer),
          v_call->>'traceparent', v_call->>'trace_id');
      else
        raise exception 'INVALID_OPERATION: %', v_call->>'op';
      end if;
      v_results := v_results || jsonb_build_array(jsonb_build_object('ok', v_result));
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      v_results := v_results || jsonb_build_array(jsonb_build_object('error', jsonb_build_object('code', v_state, 'message', v_message)));
    end;
  end loop;
  return v_results;
end $$`,
  // The pool sweeper closes expired pools of many accounts in one transaction. It
  // must never wait for a balance row while holding others (a batch holds many):
  // an account whose rows someone holds is left for the next sweep, or for the
  // account's own next write, which closes expired pools lazily.
  `
create or replace function ledger.sweep_expired_pools(p_limit integer) returns integer
language plpgsql as $$
declare
  v_account text;
  v_free integer;
  v_all integer;
  v_count integer := 0;
begin
  for v_account in
    select distinct account_id from ledger.pools
     where not closed and kind not in ('monthly', 'spend_cap') and expires_at <= now()
     order by account_id limit p_limit
  loop
    select count(*) into v_free from (
      select 1 from ledger.balances where account_id = v_account for update skip locked) free;
    select count(*) into v_all from ledger.balances where account_id = v_account;
    if v_free = v_all then
      v_count := v_count + ledger.expire_pools(v_account);
    end if;
  end loop;
  return v_count;
end $$`,
];
