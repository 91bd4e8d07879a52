import { sql, type EntityManager } from "@tollgate/db";

export interface OpenHolds {
  unit: string;
  count: number;
  /** What the open holds still reserve (amount less what was charged against them). */
  heldMicros: bigint;
}

/** Open holds per unit, read through the partial index on open holds. */
export async function openHolds(em: EntityManager): Promise<OpenHolds[]> {
  const rows = await sql<{ unit: string; count: string; held: string }>(
    em,
    `select unit, count(*)::text as count, coalesce(sum(greatest(amount_micros - charged_micros, 0)), 0)::text as held
       from ledger.holds where status = 'open' group by unit`,
  );
  return rows.map((row) => ({ unit: row.unit, count: Number(row.count), heldMicros: BigInt(row.held) }));
}

/** Pools a charge entry drew from, with the amount taken from each (pool lines only). */
export async function poolsDrawn(em: EntityManager, accountId: string, entryId: bigint): Promise<{ poolId: string; amountMicros: bigint }[]> {
  const rows = await sql<{ pool_id: string; amount: string }>(
    em,
    `select pool_id::text, (-amount_micros)::text as amount from ledger.lines where account_id = ? and entry_id = ? and pool_id is not null order by line_no`,
    [accountId, entryId.toString()],
  );
  return rows.map((row) => ({ poolId: row.pool_id, amountMicros: BigInt(row.amount) }));
}
