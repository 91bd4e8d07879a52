/** The channel a commit notifies when it leaves an account's unit with no room left (see ROOM_EXHAUSTED). */
export const ROOM_EXHAUSTED_CHANNEL = "ledger_room_exhausted";

/**
 * Room exhausted: when a committed transaction took money from a pool and
 * left the unit with nothing beyond what open holds reserve, down to its
 * negative limit (live pools - held + negative limit <= 0, the room a charge
 * without a hold may collect), the commit notifies `ledger_room_exhausted`
 * with `{"account_id", "unit", "room_micros"}`. Meter streams listen on every
 * replica and stop the streams of that account and unit whose own hold is
 * used up. A deferred constraint trigger: it runs at commit, after the
 * transaction's last change (a charge moves its hold after drawing pools),
 * so it reads the final state; a rolled back call (one of a group commit's
 * savepoints) notifies nothing, and PostgreSQL folds the same notification
 * sent twice in one transaction into one. No ledger function changes.
 */
export const ROOM_EXHAUSTED = [
  `
create function ledger.notify_room_exhausted() returns trigger
language plpgsql as $$
declare
  v_room bigint;
begin
  select coalesce((select sum(p.balance_micros) from ledger.pools p
                    where p.account_id = b.account_id and p.unit = b.unit and not p.closed
                      and (p.expires_at is null or p.expires_at > now())), 0)
         - b.held_micros + b.negative_limit_micros
    into v_room
    from ledger.balances b
   where b.account_id = new.account_id and b.unit = new.unit;
  if v_room is not null and v_room <= 0 then
    perform pg_notify('${ROOM_EXHAUSTED_CHANNEL}', json_build_object('account_id', new.account_id, 'unit', new.unit, 'room_micros', v_room::text)::text);
  end if;
  return null;
end $$`,
  `create constraint trigger pools_room_exhausted after update of balance_micros on ledger.pools
     deferrable initially deferred
     for each row when (new.balance_micros < old.balance_micros)
     execute function ledger.notify_room_exhausted()`,
];
