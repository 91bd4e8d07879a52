import type { BudgetAnswer } from "../domain/commands.js";
import { budgetAnswer } from "../domain/rules/budgets.js";
import { emptyAccount, type Budget, type BudgetMode, type BudgetScope, type Hold, type LedgerState } from "../domain/state.js";
import type { Write } from "../domain/writes.js";
import { inline } from "./sql-literals.js";

/**
 * Budgets on PostgreSQL (`ledger.budgets`): read with a batch's accounts and
 * written set-based, one statement per kind of write. They are protected by
 * the account row's lock, which every batch that reads or writes them takes
 * first (data/state-store.ts), so they take no lock of their own.
 */

/** The part of a `pg` client these functions use. */
interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
}

export interface BudgetRow {
  account_id: string; budget_id: string; unit: string; scope: BudgetScope; scope_id: string; limit_micros: string; mode: BudgetMode; per_cycle: boolean;
  threshold_percents: number[]; used_micros: string; crossed_percents: number[]; period_start_ms: string | null; reason: string; actor: string; updated_ms: string;
  created_ms: string;
}

const MS = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint::text`;
const TS = (param: string) => `(timestamptz 'epoch' + ${param} * interval '1 millisecond')`;

const COLUMNS = `account_id, budget_id, unit, scope, scope_id, limit_micros::text, mode, per_cycle, threshold_percents, used_micros::text, crossed_percents,
  ${MS("period_start")} as period_start_ms, reason, actor, ${MS("updated_at")} as updated_ms, ${MS("created_at")} as created_ms`;

/** Every budget of the accounts (read under the accounts' locks). */
export async function readBudgets(client: Queryable, accountIds: readonly string[]): Promise<BudgetRow[]> {
  return (await client.query<BudgetRow>(`select ${COLUMNS} from ledger.budgets where account_id = any($1::text[])`, [accountIds])).rows;
}

/** The same rows as one JSON array, for a statement that reads a batch's other rows in the same round trip (`accounts`: a text[] parameter). */
export const budgetRowsJson = (accounts: string) =>
  `(select coalesce(json_agg(b), '[]') from (select ${COLUMNS} from ledger.budgets where account_id = any(${accounts})) b)`;

function toBudget(r: BudgetRow): Budget {
  return {
    budgetId: r.budget_id, accountId: r.account_id, unit: r.unit, scope: r.scope, scopeId: r.scope_id, limitMicros: BigInt(r.limit_micros), mode: r.mode,
    perCycle: r.per_cycle, thresholdPercents: r.threshold_percents, usedMicros: BigInt(r.used_micros), crossedPercents: r.crossed_percents,
    periodStartMs: r.period_start_ms === null ? null : Number(r.period_start_ms), reason: r.reason, actor: r.actor, updatedAtMs: Number(r.updated_ms),
    createdAtMs: Number(r.created_ms),
  };
}

/** Puts the budgets read into the batch's state. */
export function addBudgets(state: LedgerState, rows: readonly BudgetRow[]): void {
  for (const r of rows) state.get(r.account_id)?.budgets.set(r.budget_id, toBudget(r));
}

const intArray = (values: readonly number[]) => `{${values.join(",")}}`;

/**
 * A batch's budget writes as statements (sent with its other writes and the
 * commit): the budgets support removed, then those it set (upserted: a
 * budget removed and set again in one batch is a new row), then the usage
 * charges left (the last per budget).
 */
export function budgetWriteStatements(writes: readonly Write[]): string[] {
  const keyOf = (accountId: string, budgetId: string) => JSON.stringify([accountId, budgetId]);
  const statements: string[] = [];
  const set = new Map<string, Budget>();
  const usage = new Map<string, Extract<Write, { type: "budgetUsage" }>>();
  const deleted = new Map<string, { accountId: string; budgetId: string }>();
  for (const w of writes) {
    if (w.type === "budgetDeleted") {
      const key = keyOf(w.accountId, w.budgetId);
      set.delete(key);
      usage.delete(key);
      deleted.set(key, w);
    }
    if (w.type === "budget") {
      // The budget as set carries its usage as of then: usage written before it in the batch is in it.
      const key = keyOf(w.budget.accountId, w.budget.budgetId);
      set.set(key, w.budget);
      usage.delete(key);
    }
    if (w.type === "budgetUsage") usage.set(keyOf(w.accountId, w.budgetId), w);
  }
  if (deleted.size > 0) {
    const rows = [...deleted.values()];
    statements.push(inline(
      `delete from ledger.budgets b using unnest($1::text[], $2::text[]) as x(a, id) where b.account_id = x.a and b.budget_id = x.id`,
      [rows.map((w) => w.accountId), rows.map((w) => w.budgetId)],
    ));
  }
  if (set.size > 0) {
    const rows = [...set.values()];
    statements.push(inline(
      `insert into ledger.budgets (account_id, budget_id, unit, scope, scope_id, limit_micros, mode, per_cycle, threshold_percents, used_micros, crossed_percents,
                                   period_start, reason, actor, updated_at, created_at)
       select a, b, u, s, si, l, m, pc, tp::integer[], us, cp::integer[], ${TS("ps")}, r, ac, ${TS("t")}, ${TS("cr")}
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::boolean[], $9::text[], $10::bigint[], $11::text[],
                     $12::bigint[], $13::text[], $14::text[], $15::bigint[], $16::bigint[]) as x(a, b, u, s, si, l, m, pc, tp, us, cp, ps, r, ac, t, cr)
       on conflict (account_id, budget_id) do update
         set limit_micros = excluded.limit_micros, mode = excluded.mode, per_cycle = excluded.per_cycle, threshold_percents = excluded.threshold_percents,
             used_micros = excluded.used_micros, crossed_percents = excluded.crossed_percents, period_start = excluded.period_start,
             reason = excluded.reason, actor = excluded.actor, updated_at = excluded.updated_at, created_at = excluded.created_at`,
      [
        rows.map((b) => b.accountId), rows.map((b) => b.budgetId), rows.map((b) => b.unit), rows.map((b) => b.scope), rows.map((b) => b.scopeId),
        rows.map((b) => b.limitMicros.toString()), rows.map((b) => b.mode), rows.map((b) => b.perCycle), rows.map((b) => intArray(b.thresholdPercents)),
        rows.map((b) => b.usedMicros.toString()), rows.map((b) => intArray(b.crossedPercents)), rows.map((b) => b.periodStartMs), rows.map((b) => b.reason),
        rows.map((b) => b.actor), rows.map((b) => b.updatedAtMs), rows.map((b) => b.createdAtMs),
      ],
    ));
  }
  if (usage.size > 0) {
    const rows = [...usage.values()];
    statements.push(inline(
      `update ledger.budgets b
          set used_micros = x.us, crossed_percents = x.cp::integer[], period_start = ${TS("x.ps")}
         from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) as x(a, id, us, cp, ps)
        where b.account_id = x.a and b.budget_id = x.id`,
      [rows.map((w) => w.accountId), rows.map((w) => w.budgetId), rows.map((w) => w.usedMicros.toString()), rows.map((w) => intArray(w.crossedPercents)), rows.map((w) => w.periodStartMs)],
    ));
  }
  return statements;
}

/**
 * The account's budgets as they count now (GetBalance, the console): used in
 * their period and what the account's open holds reserve against them,
 * decided by the same rules as a batch (rules/budgets.ts).
 */
export async function budgetsOf(client: Queryable, accountId: string, nowMs: number): Promise<BudgetAnswer[]> {
  const rows = await readBudgets(client, [accountId]);
  if (rows.length === 0) return [];
  const [cycle] = (await client.query<{ start_ms: string }>(`select ${MS("cycle_start")} as start_ms from ledger.accounts where account_id = $1`, [accountId])).rows;
  const holds = (
    await client.query<{ hold_id: string; unit: string; amount_micros: string; charged_micros: string; attribution: Record<string, string> }>(
      `select hold_id::text, unit, amount_micros::text, charged_micros::text, attribution from ledger.holds
        where account_id = $1 and status = 'open' and expires_at > ${TS("$2::bigint")}`,
      [accountId, nowMs],
    )
  ).rows;
  const account = emptyAccount(accountId);
  if (cycle) account.cycle = { planId: "", planVersion: 0n, startMs: Number(cycle.start_ms), endMs: 0 };
  for (const h of holds) {
    const hold: Hold = {
      holdId: h.hold_id, accountId, unit: h.unit, bucket: "", amountMicros: BigInt(h.amount_micros), chargedMicros: BigInt(h.charged_micros), status: "open",
      expiresAtMs: 0, createdAtMs: 0, closedAtMs: null, attribution: h.attribution, rateTableVersion: 0n, pricedUsage: [], pricedMicros: 0n,
    };
    account.holds.set(hold.holdId, hold);
  }
  for (const r of rows) account.budgets.set(r.budget_id, toBudget(r));
  return [...account.budgets.values()].sort((x, y) => (x.budgetId < y.budgetId ? -1 : 1)).map((b) => budgetAnswer(account, b));
}
