import { sql, type EntityManager } from "@tollgate/db";
import { INT64_MAX } from "../domain/balance.js";
import type { UsageDimension } from "../domain/usage.js";

export type ToolStatus = "development" | "deployed" | "undeployed" | "deleted";

export interface ToolRow {
  account_id: string;
  tool: string;
  owner: string;
  status: ToolStatus;
  /** Timestamps as the driver answers them (a Date or an ISO string). */
  first_deployed_at: Date | string | null;
  updated_at: Date | string;
  runs: string;
  used_micros: string;
  unit: string;
  last_active_at: Date | string | null;
}

/** When an entry's usage happened: when it was charged, or the `occurred_at` a late report gave (usage windows and cycles count it then). */
export const USAGE_AT = "coalesce(occurred_at, created_at)";

/**
 * Usage as every report reads it: an account's charges, each net of what its reversal gave back (a charge is reversed at
 * most once, found through entries_reverses_idx), at the charge's own time and attribution; a charge its reversal gave all
 * back is no usage at all (no request, no event). The columns are the entries' (amount_micros the net), so a report selects
 * from it as from ledger.entries, its `kind = 'charge'` filter taken care of; PostgreSQL flattens it into the report's query.
 */
export const USAGE_ENTRIES = usageEntries();

/**
 * USAGE_ENTRIES as they stood at a moment (the timestamptz of two `?` parameters, both that moment): charges and
 * reversals written after it left out, so every page of a ranking reads the same usage.
 */
export const USAGE_ENTRIES_AS_OF = usageEntries("?");

function usageEntries(asOf?: string): string {
  const writtenBy = (alias: string) => (asOf ? ` and ${alias}.created_at <= ${asOf}` : "");
  return `(
  select c.entry_id, c.account_id, c.unit, c.bucket, c.attribution, c.occurred_at, c.created_at,
         c.amount_micros + coalesce(r.amount_micros, 0) as amount_micros
    from ledger.entries c left join ledger.entries r on r.account_id = c.account_id and r.reverses_entry_id = c.entry_id${writtenBy("r")}
   where c.kind = 'charge'${writtenBy("c")} and (r.entry_id is null or c.amount_micros + r.amount_micros > 0))`;
}

/**
 * A sum of amounts as the API carries it (int64), saturated at its largest value: amounts each within their bounds can
 * add up past it (charges of 10^15 ten thousand times over), and a report must still answer (domain/balance.ts
 * `saturated`, the same rule for sums made in code).
 */
export const saturatedSum = (sum: string) => `least(${sum}, ${INT64_MAX})::text`;

/** A dimension as a column of entries: the bucket, or an attribution key (bound as a parameter). */
const column = (dimension: UsageDimension) => (dimension === "bucket" ? { sql: "bucket", params: [] } : { sql: "coalesce(attribution ->> ?, '')", params: [dimension] });

/** The key usage past the named ones is summed under (a chart's 26th key and on, a breakdown's 201st row key and on). */
export const OTHER_KEY = "(other)";
/** How many keys a breakdown names (those with the most usage); the rest are summed under OTHER_KEY, so its answer stays small. */
export const BREAKDOWN_KEYS = 200;

/** Charges since `since`, summed per (dimension, split, unit): e.g. per member and bucket; at most BREAKDOWN_KEYS keys named. */
export function usageBreakdown(em: EntityManager, accountId: string, dimension: UsageDimension, splitBy: UsageDimension, since: Date) {
  const key = column(dimension);
  const split = column(splitBy);
  return sql<{ key: string; split: string; unit: string; amount: string; requests: string }>(
    em,
    `with cells as (
       select ${key.sql} as key, ${split.sql} as split, unit, sum(amount_micros) as amount, count(*) as requests
         from ${USAGE_ENTRIES} usage
        where account_id = ? and ${USAGE_AT} >= ?
        group by 1, 2, 3),
     ranked as (select key, row_number() over (order by sum(amount) desc, key) as rank from cells group by key)
     select case when r.rank <= ${BREAKDOWN_KEYS} then c.key else '${OTHER_KEY}' end as key, c.split, c.unit,
            ${saturatedSum("sum(c.amount)")} as amount, sum(c.requests)::text as requests
       from cells c join ranked r using (key)
      group by 1, 2, 3 order by 1, 2, 3`,
    [...key.params, ...split.params, accountId, since],
  );
}

const TOOL_COLUMNS = `t.account_id, t.tool, t.owner, t.status, t.first_deployed_at, t.updated_at,
  coalesce(u.runs, 0)::text as runs, ${saturatedSum("coalesce(u.used, 0)")} as used_micros, coalesce(u.unit, '') as unit, u.last_active_at`;

/** Each tool's charges (an invocation each): how many, what they used (in their unit), the latest; read through entries_tool_idx. */
const TOOL_USAGE = `left join lateral (
    select count(*) as runs, sum(amount_micros) as used, max(unit) as unit, max(coalesce(e.occurred_at, e.created_at)) as last_active_at
      from ${USAGE_ENTRIES} e
     where e.account_id = t.account_id and e.attribution ->> 'tool' = t.tool
  ) u on true`;

/**
 * Records a tool's owner and status. The first time it is deployed is kept:
 * a tool counts as deployed at least once from then on, whatever its status.
 */
export async function setTool(em: EntityManager, accountId: string, tool: string, owner: string, status: ToolStatus): Promise<ToolRow> {
  await sql(
    em,
    `insert into ledger.tools as t (account_id, tool, owner, status, first_deployed_at)
     values (?, ?, ?, ?, case when ? = 'deployed' then now() end)
     on conflict (account_id, tool) do update
        set owner = excluded.owner, status = excluded.status,
            first_deployed_at = coalesce(t.first_deployed_at, excluded.first_deployed_at),
            updated_at = case when (t.owner, t.status) is distinct from (excluded.owner, excluded.status) then now() else t.updated_at end`,
    [accountId, tool, owner, status, status],
  );
  const [row] = await sql<ToolRow>(em, `select ${TOOL_COLUMNS} from ledger.tools t ${TOOL_USAGE} where t.account_id = ? and t.tool = ?`, [accountId, tool]);
  return row!;
}

/** What a tool list shows: deployed at least once, and not back in development. */
const LISTED = `t.account_id = ? and t.first_deployed_at is not null and t.status <> 'development'`;

/** The account's listed tools, most recently active first, and the totals over all of them. */
export async function listTools(em: EntityManager, accountId: string, offset: number, limit: number) {
  const [rows, [totals]] = await Promise.all([
    sql<ToolRow>(
      em,
      `select ${TOOL_COLUMNS} from ledger.tools t ${TOOL_USAGE}
        where ${LISTED}
        order by u.last_active_at desc nulls last, t.tool limit ? offset ?`,
      [accountId, limit, offset],
    ),
    sql<{ tools: string; runs: string }>(
      em,
      `select count(*)::text as tools, coalesce(sum(u.runs), 0)::text as runs from ledger.tools t ${TOOL_USAGE} where ${LISTED}`,
      [accountId],
    ),
  ]);
  return { rows, totalTools: BigInt(totals?.tools ?? "0"), totalRuns: BigInt(totals?.runs ?? "0") };
}
