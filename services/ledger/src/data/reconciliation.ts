import { sql, type EntityManager } from "@tollgate/db";

/** The two books that must agree for every account and unit. */
export type ReconciliationCheck = "journal" | "held";

export interface Mismatch {
  accountId: string;
  unit: string;
  check: ReconciliationCheck;
  /** Stored minus recomputed, in micro-units. */
  differenceMicros: bigint;
}

export interface SliceResult {
  /** The last account of the slice (the next slice starts after it); undefined when none was left. */
  lastAccountId: string | undefined;
  accounts: number;
  mismatches: Mismatch[];
}

/**
 * Checks one slice of accounts (the next `limit` after `afterAccountId`):
 * each balance's pools against their journal lines (`journal`), and its held
 * amount against what its open holds still reserve (`held`).
 */
export async function reconcileSlice(em: EntityManager, afterAccountId: string, limit: number): Promise<SliceResult> {
  const slice = await sql<{ account_id: string }>(em, `select account_id from ledger.accounts where account_id > ? order by account_id limit ?`, [afterAccountId, limit]);
  const ids = slice.map((row) => row.account_id);
  if (ids.length === 0) return { lastAccountId: undefined, accounts: 0, mismatches: [] };
  // One statement, one snapshot: a pool and its lines, a balance and its holds, are always written together.
  const rows = await sql<{ account_id: string; unit: string; journal_diff: string; held_diff: string }>(
    em,
    `with journal as (
       -- Summed per pool, so two pools wrong in opposite directions still show (as the larger of the two).
       select account_id, unit, coalesce(nullif(sum(diff), 0), max(abs(diff))) as diff from (
         select p.account_id, p.unit, p.balance_micros - coalesce(l.total, 0) as diff
           from ledger.pools p
           left join lateral (select sum(amount_micros) as total from ledger.lines where pool_id = p.pool_id) l on true
          where p.account_id > ? and p.account_id <= ?
       ) pools
        group by account_id, unit
     ),
     held as (
       select b.account_id, b.unit, b.held_micros - coalesce(sum(greatest(h.amount_micros - h.charged_micros, 0)), 0) as diff
         from ledger.balances b
         left join ledger.holds h on h.account_id = b.account_id and h.unit = b.unit and h.status = 'open'
        where b.account_id > ? and b.account_id <= ?
        group by b.account_id, b.unit, b.held_micros
     )
     select coalesce(j.account_id, h.account_id) as account_id, coalesce(j.unit, h.unit) as unit,
            coalesce(j.diff, 0)::text as journal_diff, coalesce(h.diff, 0)::text as held_diff
       from journal j full join held h on h.account_id = j.account_id and h.unit = j.unit
      where coalesce(j.diff, 0) <> 0 or coalesce(h.diff, 0) <> 0`,
    [afterAccountId, ids.at(-1), afterAccountId, ids.at(-1)],
  );
  const mismatches: Mismatch[] = [];
  for (const row of rows) {
    if (BigInt(row.journal_diff) !== 0n) mismatches.push({ accountId: row.account_id, unit: row.unit, check: "journal", differenceMicros: BigInt(row.journal_diff) });
    if (BigInt(row.held_diff) !== 0n) mismatches.push({ accountId: row.account_id, unit: row.unit, check: "held", differenceMicros: BigInt(row.held_diff) });
  }
  return { lastAccountId: ids.at(-1), accounts: ids.length, mismatches };
}

export interface ReconciliationState {
  /** Account-units out of balance, per check: the larger of the last full pass and the pass in progress. */
  mismatches: Record<ReconciliationCheck, number>;
  /** Full passes over every account completed since start. */
  passes: number;
  accountsChecked: number;
}

/**
 * The reconciliation job: each `step()` checks the next slice of accounts and
 * wraps around at the end, so every account is checked once per pass at a
 * cost of one bounded statement per step.
 */
export class Reconciler {
  private after = "";
  private current: Record<ReconciliationCheck, number> = { journal: 0, held: 0 };
  private lastPass: Record<ReconciliationCheck, number> = { journal: 0, held: 0 };
  private passes = 0;
  private accountsChecked = 0;

  constructor(
    private readonly slice: (afterAccountId: string, limit: number) => Promise<SliceResult>,
    private readonly sliceAccounts: number,
    private readonly onMismatch: (mismatch: Mismatch) => void,
  ) {}

  async step(): Promise<void> {
    const result = await this.slice(this.after, this.sliceAccounts);
    this.accountsChecked += result.accounts;
    for (const mismatch of result.mismatches) {
      this.current[mismatch.check]++;
      this.onMismatch(mismatch);
    }
    if (result.accounts < this.sliceAccounts || result.lastAccountId === undefined) {
      this.passes++;
      this.lastPass = this.current;
      this.current = { journal: 0, held: 0 };
      this.after = "";
    } else {
      this.after = result.lastAccountId;
    }
  }

  state(): ReconciliationState {
    return {
      mismatches: { journal: Math.max(this.lastPass.journal, this.current.journal), held: Math.max(this.lastPass.held, this.current.held) },
      passes: this.passes,
      accountsChecked: this.accountsChecked,
    };
  }
}
