/**
 * What the commit rules (domain/commit-rules.ts) add to a batch, applied by
 * the state store in the batch's transaction: `spend_cap_reached` events
 * (one per account and cycle: the outbox's unique index drops a second) and
 * room-exhausted signals (NOTIFY, sent on commit; PostgreSQL folds the same
 * one sent twice).
 */
import type { Write } from "../domain/writes.js";
import { ROOM_EXHAUSTED_CHANNEL } from "./migrations/room-exhausted.sql.js";
import { inline } from "./sql-literals.js";

/** The statements that apply them, sent with the batch's writes. */
export function commitEffectStatements(writes: readonly Write[]): string[] {
  const statements: string[] = [];
  const capped = writes.flatMap((w) => (w.type === "outbox" && w.event.kind === "spend_cap_reached" ? [w.event] : []));
  if (capped.length > 0) {
    // The payload as the trigger of earlier releases wrote it: the cap, what was spent, the cycle start as PostgreSQL prints it in JSON.
    statements.push(inline(
      `insert into ledger.outbox (account_id, kind, payload, traceparent)
       select x.a, 'spend_cap_reached', jsonb_build_object('cap_micros', x.cap, 'spent_micros', x.spent, 'cycle', a.cycle_start), x.t
         from unnest($1::text[], $2::text[], $3::text[], $4::text[]) with ordinality as x(a, cap, spent, t, n)
         join ledger.accounts a on a.account_id = x.a
        order by x.n
       on conflict (account_id, (payload->>'cycle')) where kind = 'spend_cap_reached' do nothing`,
      [capped.map((e) => e.accountId), capped.map((e) => String(e.payload.cap_micros)), capped.map((e) => String(e.payload.spent_micros)), capped.map((e) => e.traceparent)],
    ));
  }
  const rooms = writes.flatMap((w) => (w.type === "roomExhausted" ? [w] : []));
  if (rooms.length > 0) {
    statements.push(inline(
      `select pg_notify($1, json_build_object('account_id', x.a, 'unit', x.u, 'room_micros', x.r)::text)
         from unnest($2::text[], $3::text[], $4::text[]) with ordinality as x(a, u, r, n) order by x.n`,
      [ROOM_EXHAUSTED_CHANNEL, rooms.map((r) => r.accountId), rooms.map((r) => r.unit), rooms.map((r) => r.roomMicros.toString())],
    ));
  }
  return statements;
}
