/**
 * Spend cap reached: when a charge brings an open BYOM spend-cap pool from
 * above zero to zero or below, a `spend_cap_reached` event goes to the outbox
 * in the same transaction, at most once per account and cycle (a unique
 * index on the event's cycle; a cap raised and reached again in the same
 * cycle sends nothing more). A trigger, so no ledger function changes.
 */
export const SPEND_CAP_REACHED = [
  `create unique index outbox_spend_cap_reached_once on ledger.outbox (account_id, (payload->>'cycle')) where kind = 'spend_cap_reached'`,
  `
create function ledger.spend_cap_reached() returns trigger
language plpgsql as $$
begin
  insert into ledger.outbox (account_id, kind, payload)
  select new.account_id, 'spend_cap_reached', jsonb_build_object(
           'cap_micros', new.granted_micros::text,
           'spent_micros', (new.granted_micros - new.balance_micros)::text,
           'cycle', a.cycle_start)
    from ledger.accounts a where a.account_id = new.account_id
  on conflict (account_id, (payload->>'cycle')) where kind = 'spend_cap_reached' do nothing;
  return null;
end $$`,
  `create trigger pools_spend_cap_reached after update of balance_micros on ledger.pools
     for each row when (new.kind = 'spend_cap' and not new.closed and new.balance_micros <= 0 and old.balance_micros > 0)
     execute function ledger.spend_cap_reached()`,
];
