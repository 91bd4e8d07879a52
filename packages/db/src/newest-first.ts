import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "./sql.js";

/**
 * Where a page of a newest-first list ends: the last row's creation time, to
 * the microsecond PostgreSQL keeps, its account and its id. The next page
 * starts strictly after it (keyset paging), so rows added while someone pages
 * (new holds, new deliveries) do not push a row onto two pages, and a page
 * far down costs what the first does: no OFFSET to skip.
 */
export interface NewestFirstCursor {
  createdAtMicros: bigint;
  accountId: string;
  id: string;
}

/** A row of a newest-first list and where a page ending at it ends. */
export interface Paged<T> {
  item: T;
  cursor: NewestFirstCursor;
}

/** A SQL condition and its parameters. */
export interface Condition {
  sql: string;
  params: unknown[];
}

/** A WHERE clause joining the conditions given (falsy ones left out) with `and`, and their parameters in order. */
export function whereAll(conditions: (Condition | false | undefined | "")[]): Condition {
  const present = conditions.filter((condition): condition is Condition => Boolean(condition));
  return { sql: present.length ? `where ${present.map((condition) => condition.sql).join(" and ")}` : "", params: present.flatMap((condition) => condition.params) };
}

/** Selects a row's `created_at` as whole microseconds since the epoch (exact, unlike a JavaScript Date). */
export const CREATED_MICROS = "(extract(epoch from created_at) * 1000000)::bigint::text as created_micros";

/** A row of a newest-first list with its cursor, from a row that selected CREATED_MICROS. */
export function withCursor<T>(item: T, row: { created_micros: string; account_id: string }, id: string): Paged<T> {
  return { item, cursor: { createdAtMicros: BigInt(row.created_micros), accountId: row.account_id, id } };
}

/**
 * The order of a newest-first list whose rows are keyed by `idColumn` within
 * an account (rows of one moment by id: `asc`, or `desc` for newest first
 * when ids rise as rows are written), and the condition (with its
 * parameters) for the rows after `cursor` in that order; no condition for the
 * first page.
 */
export function newestFirst(idColumn: string, cursor: NewestFirstCursor | undefined, idOrder: "asc" | "desc" = "asc"): { orderBy: string; after?: Condition } {
  const orderBy = `order by created_at desc, account_id, ${idColumn}${idOrder === "desc" ? " desc" : ""}`;
  if (!cursor) return { orderBy };
  const at = "(timestamptz 'epoch' + ?::bigint * interval '1 microsecond')";
  const micros = String(cursor.createdAtMicros);
  // The first bound lets the (account_id, created_at desc) index start at the cursor instead of reading the newer rows to drop them.
  const sameMoment = idOrder === "asc"
    ? { sql: `(account_id, ${idColumn}) > (?, ?)`, params: [cursor.accountId, cursor.id] }
    : { sql: `(account_id > ? or (account_id = ? and ${idColumn} < ?))`, params: [cursor.accountId, cursor.accountId, cursor.id] };
  return {
    orderBy,
    after: { sql: `created_at <= ${at} and (created_at < ${at} or ${sameMoment.sql})`, params: [micros, micros, ...sameMoment.params] },
  };
}

/**
 * A page of a newest-first list of entities: the page's ids and exact times
 * first (one query on `table`, an index on `(account_id, created_at desc)`
 * serving one account), then the entities by id through `load`, in the page's
 * order. A row deleted in between (a delivery pruned) would shorten the page
 * and hide that more follow, so the page is read again then (up to 3 times,
 * then without the rows gone).
 */
export async function newestFirstEntities<T>(
  em: EntityManager,
  query: { table: string; idColumn: string; idOrder?: "asc" | "desc"; conditions: (Condition | false | undefined | "")[]; after?: NewestFirstCursor; limit: number },
  load: (ids: string[]) => Promise<T[]>,
  idOf: (entity: T) => string,
  attempts = 3,
): Promise<Paged<T>[]> {
  const { orderBy, after } = newestFirst(query.idColumn, query.after, query.idOrder);
  const where = whereAll([...query.conditions, after]);
  const keys = await sql<{ id: string; account_id: string; created_micros: string }>(
    em,
    `select ${query.idColumn}::text as id, account_id, ${CREATED_MICROS} from ${query.table} ${where.sql} ${orderBy} limit ?`,
    [...where.params, query.limit],
  );
  const byId = new Map((keys.length ? await load(keys.map((key) => key.id)) : []).map((entity) => [idOf(entity), entity]));
  if (byId.size < keys.length && attempts > 1) return newestFirstEntities(em, query, load, idOf, attempts - 1);
  return keys.flatMap((key) => {
    const entity = byId.get(key.id);
    return entity ? [withCursor(entity, key, key.id)] : [];
  });
}
