/**
 * Metered time in SQL: starting work checks the balance under the balance
 * lock; metering charges an interval and moves `charged_until` in the same
 * transaction, so a retried or concurrent tick can never charge an interval
 * twice (a tick whose `p_from` is no longer `charged_until` does nothing).
 */
export const STOP_MESSAGE = "You've used all your available credits. Please add more credits to your account to continue.";

export const METERED_TIME_FUNCTIONS = [
  `
create function ledger.start_work(
  p_kind text, p_work text, p_account text, p_unit text, p_usage jsonb, p_replicas integer, p_attribution jsonb,
  p_min_available bigint, p_denial text, p_key text, p_hash text, p_endpoint text
) returns jsonb
language plpgsql as $$
declare
  v_balance ledger.balances;
  v_available bigint;
  v_response jsonb;
begin
  v_balance := ledger.lock_balance(p_account, p_unit);
  v_response := ledger.replayed(p_account, p_key, p_hash);
  if v_response is not null then
    return v_response;
  end if;
  perform ledger.expire_holds(p_account, p_unit);
  select ledger.total_balance(p_account, p_unit) - held_micros into v_available
    from ledger.balances where account_id = p_account and unit = p_unit;
  if exists (select 1 from ledger.metered_work where work_id = p_work) then
    raise exception 'WORK_EXISTS: % % already exists', p_kind, p_work;
  end if;
  if v_available < p_min_available then
    v_response := jsonb_build_object('allowed', false, 'reason', p_denial, 'available_micros', v_available::text);
  else
    insert into ledger.metered_work (work_id, kind, account_id, state, usage, replicas, attribution, charged_until, endpoint)
    values (p_work, p_kind, p_account, 'running', p_usage, p_replicas, p_attribution, date_trunc('milliseconds', now()), p_endpoint);
    if p_kind = 'deployment' then
      insert into ledger.outbox (account_id, kind, payload)
      values (p_account, 'deployment_changed', jsonb_build_object(
        'deployment_id', p_work, 'state', 'deployed', 'endpoint', p_endpoint, 'replicas', p_replicas));
    end if;
    v_response := jsonb_build_object('allowed', true, 'available_micros', v_available::text);
  end if;
  insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
  values (p_account, p_key, 'start_' || p_kind, p_hash, v_response);
  return v_response;
end $$`,
  // A resumed run starts a new active period: the pause is never charged.
  `
create function ledger.resume_work(p_work text) returns jsonb
language plpgsql as $$
declare
  v_state text;
begin
  update ledger.metered_work set state = 'running', charged_until = date_trunc('milliseconds', now())
   where work_id = p_work and state = 'paused'
  returning state into v_state;
  if v_state is null then
    select state into v_state from ledger.metered_work where work_id = p_work;
    if not found then
      raise exception 'NOT_FOUND: run %', p_work;
    end if;
  end if;
  return jsonb_build_object('state', v_state);
end $$`,
  `
create function ledger.meter_work(
  p_work text, p_from timestamptz, p_to timestamptz, p_amount bigint, p_unit text, p_bucket text, p_rate_version bigint,
  p_order text[], p_thresholds integer[], p_next_state text, p_replicas integer, p_traceparent text, p_trace_id text
) returns jsonb
language plpgsql as $$
declare
  v_work ledger.metered_work;
  v_charge jsonb;
  v_state text;
begin
  select * into v_work from ledger.metered_work where work_id = p_work for update;
  if not found then
    raise exception 'NOT_FOUND: work %', p_work;
  end if;
  if v_work.charged_until <> p_from then
    return jsonb_build_object('stale', true, 'state', v_work.state);
  end if;
  v_state := coalesce(p_next_state, v_work.state);
  if v_work.state = 'running' and p_to > p_from then
    v_charge := ledger.charge(
      v_work.account_id, null, p_unit, p_bucket, p_amount, true,
      'meter:' || p_work || ':' || (extract(epoch from p_to) * 1000)::bigint, md5(p_amount::text || p_unit),
      v_work.attribution || jsonb_build_object(case when v_work.kind = 'run' then 'task_id' else 'deployment_id' end, p_work),
      p_rate_version, p_order, p_thresholds, p_traceparent, p_trace_id);
    if not (v_charge->>'proceed')::boolean and v_state in ('running', 'paused') then
      v_state := 'stopped';
      insert into ledger.outbox (account_id, kind, payload, traceparent)
      values (v_work.account_id, 'work_stopped', jsonb_build_object(
        'run_id', case when v_work.kind = 'run' then p_work else '' end,
        'deployment_id', case when v_work.kind = 'deployment' then p_work else '' end,
        'message', '${STOP_MESSAGE.replace(/'/g, "''")}'), p_traceparent);
    end if;
  end if;
  update ledger.metered_work
     set charged_until = p_to,
         active_ms = active_ms + case when state = 'running' then (extract(epoch from (p_to - p_from)) * 1000)::bigint else 0 end,
         charged_micros = charged_micros + coalesce((v_charge->>'charged_micros')::bigint, 0),
         replicas = coalesce(p_replicas, replicas),
         state = v_state,
         stop_reason = case when v_state = 'stopped' and state <> 'stopped' then 'negative limit reached' else stop_reason end,
         ended_at = case when v_state not in ('running', 'paused') then coalesce(ended_at, now()) else ended_at end
   where work_id = p_work;
  if v_work.kind = 'deployment' and v_state = 'undeployed' and v_work.state <> 'undeployed' then
    insert into ledger.outbox (account_id, kind, payload, traceparent)
    values (v_work.account_id, 'deployment_changed', jsonb_build_object(
      'deployment_id', p_work, 'state', 'undeployed', 'endpoint', v_work.endpoint, 'replicas', v_work.replicas), p_traceparent);
  end if;
  return coalesce(v_charge, '{}'::jsonb) || jsonb_build_object('state', v_state, 'stale', false);
end $$`,
];
