import { sql, type EntityManager } from "@tollgate/db";
import type { Entry, Hold } from "./entities.js";
import type { WorkRow } from "./ledger-store.js";

export type SearchField = "hold_id" | "entry_id" | "idempotency_key" | "trace_id" | "conversation_id" | "task_id" | "work_id";

/** One thing a support search found: which field matched, on which account, and the hold, entry or metered work itself. */
export type SearchFound = { field: SearchField; accountId: string; operation: string } & ({ hold: Hold } | { entry: Entry } | { work: WorkRow } | {});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ENTRY_ID = /^[1-9][0-9]{0,17}$/;

/** The newest metered work of a work id first (account ids apart ties): the search's branch and the rows it loads after. */
const WORK_ORDER = "order by created_at desc, account_id limit ?";

/**
 * The ledger search query: one statement, each branch reading one index
 * (named beside it; see Migration20261130600000_search), at most `limit`
 * newest matches per branch. An idempotency key leads to what its call
 * made (a charge's entry, an authorization's hold), or names its account and
 * operation when the call made neither (starting a run, a denial).
 */
export const SEARCH_SQL = `
  select * from (
    select 'hold_id' as field, 'hold' as target, hold_id::text as id, account_id, '' as operation from ledger.holds where hold_id = ?::uuid -- holds_pkey
  ) hold
  union all select * from (
    select 'entry_id', 'entry', entry_id::text, account_id, '' from ledger.entries where entry_id = ?::bigint         -- entries_entry_idx
  ) entry
  union all select * from (
    select 'work_id', 'work', work_id, account_id, '' from ledger.metered_work where work_id = ?                       -- metered_work_work_idx
    ${WORK_ORDER}
  ) work
  union all select * from (
    select 'idempotency_key',
      case when response ->> 'entry_id' is not null then 'entry' when response ->> 'hold_id' is not null then 'hold' else 'none' end,
      coalesce(response ->> 'entry_id', response ->> 'hold_id', ''), account_id, operation
    from ledger.idempotency_keys where idempotency_key = ?                                                                -- idempotency_keys_key_idx
    order by created_at desc limit ?
  ) idempotency
  union all select * from (
    select 'trace_id', 'entry', entry_id::text, account_id, '' from ledger.entries where trace_id = ? and trace_id <> ''                 -- entries_trace_idx
    order by entry_id desc limit ?
  ) trace
  union all select * from (
    select 'conversation_id', 'entry', entry_id::text, account_id, '' from ledger.entries
    where attribution ->> 'conversation_id' = ?                                     -- entries_conversation_idx
    order by entry_id desc limit ?
  ) conversation
  union all select * from (
    select 'task_id', 'entry', entry_id::text, account_id, '' from ledger.entries
    where attribution ->> 'task_id' = ?                                                     -- entries_task_idx
    order by entry_id desc limit ?
  ) task`;

/** SEARCH_SQL's parameters, in order. */
export function searchParameters(query: string, limit: number): unknown[] {
  return [UUID.test(query) ? query : null, ENTRY_ID.test(query) ? query : null, query, limit, query, limit, query, limit, query, limit, query, limit];
}

export interface SearchMatch {
  field: SearchField;
  target: "hold" | "entry" | "work" | "none";
  id: string;
  account_id: string;
  operation: string;
}

/** The metered work the search's `work_id` branch found, whole: the same rows in the same order, in one statement. */
export const SEARCH_WORK_SQL = `select * from ledger.metered_work where work_id = ? ${WORK_ORDER}`; // metered_work_work_idx

/** What matches the query, as (field, target, id) in the query's branch order; the caller loads the targets. */
export async function searchMatches(em: EntityManager, query: string, limit: number): Promise<SearchMatch[]> {
  const q = query.trim();
  if (!q) return [];
  return sql<SearchMatch>(em, SEARCH_SQL, searchParameters(q, limit));
}
