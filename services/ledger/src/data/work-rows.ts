/**
 * Metered work's rows in the state store: how a batch reads a run's or
 * deployment's row into the state machine's `Work`, inserts the ones it
 * starts and writes back the ones it changes (one multi-row statement each,
 * sent with the batch's other writes).
 */
import type { Work } from "../domain/state.js";
import { inline } from "./sql-literals.js";

/** Epoch milliseconds in SQL, exactly (no float on the way). */
const TS = (param: string) => `(timestamptz 'epoch' + ${param} * interval '1 millisecond')`;
const MS = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint::text`;
const text = (value: bigint | number) => value.toString();
const json = (value: unknown) => JSON.stringify(value);

export interface WorkRow {
  work_id: string; kind: "run" | "deployment"; account_id: string; unit: string; state: string; replicas: number; charged_until_ms: string; active_ms: string;
  charged_micros: string; attribution: Record<string, string>; endpoint: string; stop_reason: string; usage: Record<string, unknown>; labels: Record<string, string>;
  context: Record<string, string>; metered: boolean; priced_quantity: string; priced_micros: string; created_ms: string; work_kind: string;
  rate_table_id: string | null;
}

export const WORK_COLUMNS = `
  work_id, kind, account_id, unit, state, replicas, ${MS("charged_until")} as charged_until_ms, active_ms::text, charged_micros::text,
  attribution, endpoint, stop_reason, usage, labels, context, metered, priced_quantity::text, priced_micros::text, ${MS("created_at")} as created_ms,
  work_kind, rate_table_id`;

export function toWork(r: WorkRow): Work {
  return {
    workId: r.work_id, kind: r.kind, accountId: r.account_id, unit: r.unit, state: r.state, replicas: r.replicas, chargedUntilMs: Number(r.charged_until_ms),
    activeMs: Number(r.active_ms), chargedMicros: BigInt(r.charged_micros), attribution: r.attribution, endpoint: r.endpoint, stopReason: r.stop_reason,
    usage: r.usage, labels: r.labels, context: r.context, metered: r.metered, pricedQuantity: BigInt(r.priced_quantity), pricedMicros: BigInt(r.priced_micros),
    createdAtMs: Number(r.created_ms), ...(r.work_kind ? { workKind: r.work_kind } : {}), ...(r.rate_table_id ? { rateTableId: r.rate_table_id } : {}),
  };
}

/** Runs and deployments a batch started. */
export function insertWorkStatement(rows: readonly Work[]): string | null {
  if (rows.length === 0) return null;
  return inline(
    `insert into ledger.metered_work (work_id, kind, account_id, unit, state, usage, replicas, attribution, charged_until, active_ms, charged_micros, stop_reason, endpoint,
                                      labels, context, metered, priced_quantity, priced_micros, created_at, work_kind, rate_table_id)
     select id, k, a, u, st, us, r, at, ${TS("cu")}, am, cm, sr, ep, lb, cx, me, pq, pm, ${TS("cr")}, wk, nullif(rt, '')
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::int[], $8::jsonb[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[],
                   $14::jsonb[], $15::jsonb[], $16::boolean[], $17::bigint[], $18::bigint[], $19::bigint[], $20::text[], $21::text[])
         as x(id, k, a, u, st, us, r, at, cu, am, cm, sr, ep, lb, cx, me, pq, pm, cr, wk, rt)`,
    [
      rows.map((w) => w.workId), rows.map((w) => w.kind), rows.map((w) => w.accountId), rows.map((w) => w.unit), rows.map((w) => w.state), rows.map((w) => json(w.usage)),
      rows.map((w) => w.replicas), rows.map((w) => json(w.attribution)), rows.map((w) => w.chargedUntilMs), rows.map((w) => w.activeMs), rows.map((w) => text(w.chargedMicros)),
      rows.map((w) => w.stopReason), rows.map((w) => w.endpoint), rows.map((w) => json(w.labels)), rows.map((w) => json(w.context)), rows.map((w) => w.metered),
      rows.map((w) => text(w.pricedQuantity)), rows.map((w) => text(w.pricedMicros)), rows.map((w) => w.createdAtMs),
      rows.map((w) => w.workKind ?? ""), rows.map((w) => w.rateTableId ?? ""),
    ],
  );
}

/** Runs and deployments as a batch left them (every field a tick, a pause, a resume or a scale may change). */
export function updateWorkStatement(rows: readonly Work[]): string | null {
  if (rows.length === 0) return null;
  return inline(
    `update ledger.metered_work m
        set state = x.st, replicas = x.r, charged_until = ${TS("x.cu")}, active_ms = x.am, charged_micros = x.cm, stop_reason = x.sr, unit = x.u,
            priced_quantity = x.pq, priced_micros = x.pm,
            ended_at = case when x.st not in ('running', 'paused') then coalesce(m.ended_at, now()) else m.ended_at end
       from unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[])
         as x(id, st, r, cu, am, cm, sr, u, pq, pm, a)
      where m.account_id = x.a and m.work_id = x.id`,
    [
      rows.map((w) => w.workId), rows.map((w) => w.state), rows.map((w) => w.replicas), rows.map((w) => w.chargedUntilMs), rows.map((w) => w.activeMs),
      rows.map((w) => text(w.chargedMicros)), rows.map((w) => w.stopReason), rows.map((w) => w.unit), rows.map((w) => text(w.pricedQuantity)), rows.map((w) => text(w.pricedMicros)),
      rows.map((w) => w.accountId),
    ],
  );
}
