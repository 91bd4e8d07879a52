import { sql, type EntityManager } from "@tollgate/db";
import { EntrySchema, HoldSchema, LineSchema, PoolSchema, type Entry, type Hold, type Line, type Pool } from "./entities.js";
import type { OutboxRow, WorkRow } from "./ledger-store.js";

/**
 * The receipt's look-ups by time of transaction, each read through an index:
 * the key of the call that wrote an entry or a hold (idempotency_keys_created_idx)
 * and the outbox rows it wrote (outbox_account_created_idx). Parameters: the
 * entry or hold id, the account, the id again; for events the account, the
 * entry ids (a bigint array literal) and the trace id twice.
 */
export const RECEIPT_SQL = {
  entryKey: `select idempotency_key as key, operation from ledger.idempotency_keys
              where created_at = (select created_at from ledger.entries where entry_id = ?) and account_id = ? and response ->> 'entry_id' = ?`,
  holdKey: `select idempotency_key as key, operation from ledger.idempotency_keys
             where created_at = (select created_at from ledger.holds where hold_id = ?) and account_id = ? and response ->> 'hold_id' = ?`,
  events: `select o.sequence::text as sequence, o.account_id, o.kind, o.payload, o.traceparent, o.created_at
             from ledger.outbox o
            where o.account_id = ? and o.sequence is not null
              and o.created_at in (select created_at from ledger.entries where entry_id = any(?::bigint[]))
              and (? = '' or split_part(o.traceparent, '-', 2) = ?)
            order by o.sequence`,
};

/** A journal entry's trace id, or "" for none: entries written while spans were not recorded carry the all-zero id, which names no trace. */
export const recordedTrace = (traceId: string): string => (/^0+$/.test(traceId) ? "" : traceId);

/** Everything the journal holds about one charge or hold: the reads behind a cost receipt. */
export interface ReceiptRecord {
  accountId: string;
  unit: string;
  bucket: string;
  hold: Hold | null;
  /** The charge entries covered, oldest first. */
  charges: Entry[];
  lines: Line[];
  /** The pools the charges' lines drew from. */
  pools: Pool[];
  balanceBeforeMicros: bigint;
  balanceAfterMicros: bigint;
  idempotency: { key: string; operation: string } | null;
  events: OutboxRow[];
  /** The metered run or deployment the charges were for, if any. */
  work: WorkRow | undefined;
}

/** A charge entry (with its hold, if any; a reversal stands for the charge it returned), or a hold and every charge made on it; undefined when the id names neither. Other entries are `notCharge`. */
export async function receiptRecord(em: EntityManager, target: { entryId: bigint } | { holdId: string }): Promise<ReceiptRecord | "notCharge" | undefined> {
  let hold: Hold | null = null;
  let charges: Entry[];
  if ("entryId" in target) {
    let entry = await em.findOne(EntrySchema, { entryId: target.entryId.toString() });
    if (!entry) return undefined;
    // A reversal's receipt is the receipt of the charge it returned, which shows both.
    if (entry.kind === "reverse" && entry.reversesEntryId) entry = await em.findOne(EntrySchema, { accountId: entry.accountId, entryId: entry.reversesEntryId });
    if (!entry || entry.kind !== "charge") return "notCharge";
    hold = entry.holdId ? await em.findOne(HoldSchema, { holdId: entry.holdId }) : null;
    charges = [entry];
  } else {
    hold = await em.findOne(HoldSchema, { holdId: target.holdId });
    if (!hold) return undefined;
    charges = await em.find(EntrySchema, { holdId: hold.holdId, kind: "charge" }, { orderBy: { entryId: "asc" } });
  }
  const first = charges[0];
  const accountId = hold?.accountId ?? first!.accountId;
  const unit = hold?.unit ?? first!.unit;
  const ids = charges.map((c) => c.entryId);
  const lines = ids.length ? await em.find(LineSchema, { accountId, entryId: { $in: ids } }, { orderBy: { entryId: "asc", lineNo: "asc" } }) : [];
  const poolIds = [...new Set(lines.flatMap((l) => (l.poolId ? [l.poolId] : [])))];
  const [pools, balance, idempotency, events, work] = await Promise.all([
    poolIds.length ? em.find(PoolSchema, { poolId: { $in: poolIds } }) : Promise.resolve([] as Pool[]),
    balanceAround(em, accountId, unit, first ? { firstEntryId: first.entryId, lastEntryId: charges.at(-1)!.entryId } : { holdId: hold!.holdId }),
    // Asked by entry: the charge's own call; by hold: the authorization that made it.
    idempotencyOf(em, accountId, "entryId" in target ? { entryId: first!.entryId } : { holdId: hold!.holdId }),
    ids.length ? eventsOf(em, accountId, ids, recordedTrace(first!.traceId)) : Promise.resolve([] as OutboxRow[]),
    workOf(em, accountId, (first ?? hold)!.attribution),
  ]);
  return {
    accountId, unit, bucket: hold?.bucket ?? first!.bucket, hold, charges, lines, pools,
    balanceBeforeMicros: balance.before, balanceAfterMicros: balance.after, idempotency, events, work,
  };
}

/**
 * The unit's balance (the sum of its pools' journal lines) just before the
 * first entry and just after the last; for a hold without charges, both are
 * the balance after the last entry written by the time the hold was.
 */
async function balanceAround(em: EntityManager, accountId: string, unit: string, span: { firstEntryId: string; lastEntryId: string } | { holdId: string }) {
  const [row] = "holdId" in span
    ? await sql<{ before: string; after: string }>(
        em,
        `with bound as (
           select coalesce(max(e.entry_id), 0) as id from ledger.entries e, ledger.holds h
            where h.hold_id = ? and e.account_id = h.account_id and e.created_at <= h.created_at
         )
         select coalesce(sum(l.amount_micros), 0)::text as before, coalesce(sum(l.amount_micros), 0)::text as after
           from ledger.lines l join ledger.pools p on p.pool_id = l.pool_id, bound
          where p.account_id = ? and p.unit = ? and l.entry_id <= bound.id`,
        [span.holdId, accountId, unit],
      )
    : await sql<{ before: string; after: string }>(
        em,
        `select coalesce(sum(l.amount_micros) filter (where l.entry_id < ?), 0)::text as before,
                coalesce(sum(l.amount_micros) filter (where l.entry_id <= ?), 0)::text as after
           from ledger.lines l join ledger.pools p on p.pool_id = l.pool_id
          where p.account_id = ? and p.unit = ?`,
        [span.firstEntryId, span.lastEntryId, accountId, unit],
      );
  return { before: BigInt(row?.before ?? "0"), after: BigInt(row?.after ?? "0") };
}

/**
 * The idempotency key of the call that made a charge or a hold: the
 * key is written in the same transaction, so at the same `created_at` (read
 * through the key table's time index), and its answer names the entry or hold.
 */
async function idempotencyOf(em: EntityManager, accountId: string, made: { entryId: string } | { holdId: string }) {
  const [row] = "entryId" in made
    ? await sql<{ key: string; operation: string }>(
        em,
        RECEIPT_SQL.entryKey,
        [made.entryId, accountId, made.entryId],
      )
    : await sql<{ key: string; operation: string }>(
        em,
        RECEIPT_SQL.holdKey,
        [made.holdId, accountId, made.holdId],
      );
  return row ?? null;
}

/**
 * Outbox events the charges wrote: same account, same transaction time, and
 * (when the charge carried one) the same trace, so other calls committed in
 * the same group-commit batch are left out.
 */
function eventsOf(em: EntityManager, accountId: string, entryIds: string[], traceId: string) {
  return sql<OutboxRow>(
    em,
    RECEIPT_SQL.events,
    [accountId, `{${entryIds.join(",")}}`, traceId, traceId],
  );
}

/** The metered run (task id) or deployment the attribution names, when there is one. */
async function workOf(em: EntityManager, accountId: string, attribution: Record<string, string>): Promise<WorkRow | undefined> {
  const id = attribution.deployment_id ?? attribution.task_id;
  if (!id) return undefined;
  const [row] = await sql<WorkRow>(em, `select * from ledger.metered_work where account_id = ? and work_id = ?`, [accountId, id]);
  return row;
}
