import { CREATED_MICROS, newestFirst, newestFirstEntities, sql, whereAll, withCursor, type EntityManager, type NewestFirstCursor, type Paged } from "@tollgate/db";
import { IdempotencyKeyReusedError } from "@tollgate/errors";
import type { BudgetAnswer } from "../domain/commands.js";
import { budgetsOf } from "./budgets.js";
import { SEARCH_WORK_SQL, searchMatches, type SearchFound } from "./search.js";
import { OTHER_KEY, saturatedSum, USAGE_AT, USAGE_ENTRIES, USAGE_ENTRIES_AS_OF } from "./usage-views.js";
import type { PgPool } from "./state-store.js";
import { EntrySchema, HoldSchema, LedgerAccountSchema, LineSchema, PoolSchema, BalanceSchema, type Entry, type Hold, type LedgerAccount, type Line, type Pool, type Balance } from "./entities.js";

/** What ListEntries narrows a journal to (all given must match). */
export interface EntryFilter {
  accountId: string;
  holdId?: string;
  kind?: string;
  attribution?: Record<string, string>;
}

/** A period of the journal: entries recorded at or after `from`, and before `before` (either may be open). */
export interface RecordedPeriod {
  from?: Date;
  before?: Date;
}

export interface WorkRow {
  work_id: string;
  kind: "run" | "deployment";
  account_id: string;
  /** The kind of work ("guardrail", "custom_script"…; empty: none named). */
  work_kind: string;
  state: string;
  usage: unknown;
  replicas: number;
  charged_until: Date;
  active_ms: string;
  charged_micros: string;
  attribution: Record<string, string>;
  labels: Record<string, string>;
  /** Where the work runs (run location, inference source, compute source), as decided at the start. */
  context: Record<string, string>;
  /** False when the plan's eligibility rules (or the defaults) leave the work unmetered: its time is recorded, never charged. */
  metered: boolean;
  /** Active seconds (runs) or replica-seconds (deployments) priced so far, and the rounded price of them all. */
  priced_quantity: string;
  priced_micros: string;
  stop_reason: string;
  created_at: Date;
  ended_at: Date | null;
  /** The rate table its ticks price it with; null on work started before it was kept (the account's table prices it). */
  rate_table_id: string | null;
}

export interface UsageSince {
  usedMicros: bigint;
  events: number;
  firstAt: Date | undefined;
}

export interface OutboxRow {
  sequence: string;
  account_id: string;
  kind: string;
  payload: Record<string, unknown>;
  traceparent: string;
  /** As the driver returns it (an ISO string or a Date). */
  created_at: string | Date;
}

/** The ledger's reads and its bookkeeping (idempotency of metered work's state changes, pruning, acknowledgements); every balance write goes through the state store. */
export interface LedgerStore {
  /** Charges in `unit` per time bucket and key; keys past the USAGE_KEYS with the most usage are summed under OTHER_KEY. */
  usage(accountId: string, unit: string, dimension: string | null, since: Date, bucket: "hour" | "day" | "week"): Promise<{ start: Date; key: string; amount: string; requests: string }[]>;
  /**
   * Charges in `unit` since `since` per key, most first, and their total, as written by `asOf` (USAGE_ENTRIES_AS_OF):
   * exact sums, which may pass int64 (callers saturate what they answer).
   */
  topUsage(accountId: string, unit: string, dimension: string, since: Date, asOf: Date, offset: number, limit: number): Promise<{ rows: { key: string; amount: string; requests: string }[]; total: bigint }>;
  /** The highest sequence of the event stream so far (0 when empty): StreamEvents after it starts from now. */
  latestEventSequence(): Promise<bigint>;
  /** A run or deployment of the account. */
  work(accountId: string, workId: string): Promise<WorkRow | undefined>;
  /** Runs and deployments with this id, in any account (at most `limit`). */
  workNamed(workId: string, limit: number): Promise<WorkRow[]>;
  /** Runs and deployments, newest first, after `after` (a page's last row; unset: from the newest). */
  listWork(filter: { accountId?: string; kind?: string; state?: string; workId?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<WorkRow>[]>;
  /** Holds, newest first, after `after` (a page's last row; unset: from the newest). */
  listHolds(filter: { accountId?: string; status?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<Hold>[]>;
  /** Running work last charged before `chargedBefore`, oldest charge first, after `after` (a page's last row). */
  dueWork(chargedBefore: Date, limit: number, after?: WorkRow): Promise<WorkRow[]>;
  /** The stored result of an idempotency key (IDEMPOTENCY_KEY_REUSED when the request differs), or undefined. */
  recall(accountId: string, key: string, requestHash: string): Promise<unknown>;
  remember(accountId: string, key: string, operation: string, requestHash: string, response: unknown): Promise<void>;
  /** Whether the account's idempotency key is recorded (not yet pruned). */
  recorded(accountId: string, key: string): Promise<boolean>;
  /** Forgets idempotency keys older than `retentionMs` (at most `limit` per call). */
  pruneIdempotencyKeys(retentionMs: number, limit: number): Promise<number>;
  /**
   * Deletes up to `limit` sequenced outbox rows older than `retentionMs` that
   * every registered consumer has acknowledged, oldest first, always keeping
   * the latest (GetLatestEventSequence reads it).
   */
  pruneOutbox(retentionMs: number, limit: number): Promise<number>;
  /** Records that `consumer` consumed the events through `through` (only forward, never past the latest); answers where it stands. */
  acknowledgeEvents(consumer: string, through: bigint): Promise<bigint>;
  /** The highest outbox sequence pruned so far (0: none). */
  outboxPrunedThrough(): Promise<bigint>;
  /** Accounts with an open hold past its expiry (at most `limit`), for the hold sweeper. */
  expiredHoldAccounts(limit: number): Promise<string[]>;
  /** Accounts with an open pool past its expiry that rollover does not close (at most `limit`), for the pool sweeper. */
  expiredPoolAccounts(limit: number): Promise<string[]>;
  account(accountId: string): Promise<LedgerAccount | null>;
  pools(accountId: string): Promise<Pool[]>;
  balances(accountId: string): Promise<Balance[]>;
  hold(holdId: string): Promise<Hold | null>;
  /** Newest first by id, below `beforeId`. */
  entries(filter: EntryFilter & { beforeId?: bigint; limit: number }): Promise<Entry[]>;
  /** One period's entries, newest first by when recorded (entries of one moment newest first too), after `after` (a page's last row). */
  entriesRecorded(filter: EntryFilter & { period: RecordedPeriod; after?: NewestFirstCursor; limit: number }): Promise<Paged<Entry>[]>;
  lines(entries: { accountId: string; entryId: string }[]): Promise<Line[]>;
  reversals(accountId: string, entryIds: string[]): Promise<Map<string, string>>;
  /** What the unit's charges since `since` drew: the total, how many drew more than zero, and when the first of those was. */
  usedSince(accountId: string, unit: string, since: Date): Promise<UsageSince>;
  outboxAfter(sequence: bigint, limit: number): Promise<OutboxRow[]>;
  /** Holds, entries and metered work across every account, found by an id a support ticket carries (index-backed). */
  search(query: string, limit: number): Promise<SearchFound[]>;
  /** The account's budgets as they count now (data/budgets.ts). */
  budgets(accountId: string, now: Date): Promise<BudgetAnswer[]>;
}

/** How many keys a usage chart names; the rest are summed under OTHER_KEY. */
export const USAGE_KEYS = 25;

export class PostgresLedgerStore implements LedgerStore {
  constructor(private readonly em: () => EntityManager) {}

  /** `dimension` is a validated attribution key or "bucket" (never user text in SQL). */
  private static keyExpression(dimension: string | null): string {
    if (dimension === null) return `''`;
    return dimension === "bucket" ? "bucket" : `coalesce(attribution->>'${dimension}', '')`;
  }

  async usage(accountId: string, unit: string, dimension: string | null, since: Date, bucket: "hour" | "day" | "week") {
    // One answer, not paged: a split by a dimension with many values (conversation_id) names the ones with the most usage.
    const rows = await sql<{ start: string | Date; key: string; amount: string; requests: string }>(
      this.em(),
      `with points as (
         select date_trunc('${bucket}', ${USAGE_AT}) as start, ${PostgresLedgerStore.keyExpression(dimension)} as key,
                sum(amount_micros) as amount, count(*) as requests
           from ${USAGE_ENTRIES} usage
          where account_id = ? and unit = ? and ${USAGE_AT} >= ?
          group by 1, 2),
       ranked as (select key, row_number() over (order by sum(amount) desc, key) as rank from points group by key)
       select p.start, case when r.rank <= ${USAGE_KEYS} then p.key else '${OTHER_KEY}' end as key,
              ${saturatedSum("sum(p.amount)")} as amount, sum(p.requests)::text as requests
         from points p join ranked r using (key)
        group by 1, 2 order by 1, 2`,
      [accountId, unit, since],
    );
    return rows.map((row) => ({ ...row, start: new Date(row.start) }));
  }

  async topUsage(accountId: string, unit: string, dimension: string, since: Date, asOf: Date, offset: number, limit: number) {
    const key = PostgresLedgerStore.keyExpression(dimension);
    // Exact sums (numeric, past int64 when charges add up so far): shares are taken of them, and the API's figures saturated after.
    const rows = await sql<{ key: string; amount: string; requests: string }>(
      this.em(),
      `select key, amount::text, requests::text from (
         select ${key} as key, sum(amount_micros) as amount, count(*) as requests
           from ${USAGE_ENTRIES_AS_OF} usage where account_id = ? and unit = ? and ${USAGE_AT} >= ?
          group by 1) t
        order by t.amount desc, t.key limit ? offset ?`,
      [asOf, asOf, accountId, unit, since, limit, offset],
    );
    const [totals] = await sql<{ total: string }>(
      this.em(),
      `select coalesce(sum(amount_micros), 0)::text as total from ${USAGE_ENTRIES_AS_OF} usage where account_id = ? and unit = ? and ${USAGE_AT} >= ?`,
      [asOf, asOf, accountId, unit, since],
    );
    return { rows, total: BigInt(totals?.total ?? "0") };
  }

  async latestEventSequence(): Promise<bigint> {
    // Events already committed get their sequence first, so "after the latest" means from now on. ledger.sequence_outbox
    // skips when another call is sequencing: this waits for that one (its lock), then sequences what is left.
    await this.em().transactional(async (tx) => {
      await sql(tx, `select pg_advisory_xact_lock(hashtext('ledger.sequence_outbox'))`, []);
      await sql(tx, `select ledger.sequence_outbox()`, []);
    });
    const [row] = await sql<{ sequence: string }>(this.em(), `select coalesce(max(sequence), 0)::text as sequence from ledger.outbox`, []);
    return BigInt(row?.sequence ?? "0");
  }

  private static workRow(row: WorkRow & { charged_until: string | Date }): WorkRow {
    return {
      ...row,
      charged_until: new Date(row.charged_until),
      created_at: new Date(row.created_at),
      ended_at: row.ended_at ? new Date(row.ended_at) : null,
    };
  }

  async listWork(filter: { accountId?: string; kind?: string; state?: string; workId?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<WorkRow>[]> {
    const { orderBy, after } = newestFirst("work_id", filter.after);
    const where = whereAll([
      filter.accountId && { sql: "account_id = ?", params: [filter.accountId] },
      filter.kind && { sql: "kind = ?", params: [filter.kind] },
      filter.state && { sql: "state = ?", params: [filter.state] },
      filter.workId && { sql: "work_id = ?", params: [filter.workId] },
      after,
    ]);
    const rows = await sql<WorkRow & { created_micros: string }>(
      this.em(),
      `select *, ${CREATED_MICROS} from ledger.metered_work ${where.sql} ${orderBy} limit ?`,
      [...where.params, filter.limit],
    );
    return rows.map((row) => withCursor(PostgresLedgerStore.workRow(row), row, row.work_id));
  }

  listHolds(filter: { accountId?: string; status?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<Hold>[]> {
    const conditions = [filter.accountId && { sql: "account_id = ?", params: [filter.accountId] }, filter.status && { sql: "status = ?", params: [filter.status] }];
    return newestFirstEntities(
      this.em(),
      { table: "ledger.holds", idColumn: "hold_id", conditions, ...(filter.after ? { after: filter.after } : {}), limit: filter.limit }, // holds_account_idx for one account
      (ids) => this.em().find(HoldSchema, { holdId: { $in: ids } }),
      (hold) => hold.holdId,
    );
  }

  async work(accountId: string, workId: string): Promise<WorkRow | undefined> {
    const [row] = await sql<WorkRow>(this.em(), `select * from ledger.metered_work where account_id = ? and work_id = ?`, [accountId, workId]); // metered_work_pkey
    return row ? PostgresLedgerStore.workRow(row) : undefined;
  }

  async workNamed(workId: string, limit: number): Promise<WorkRow[]> {
    const rows = await sql<WorkRow>(this.em(), `select * from ledger.metered_work where work_id = ? order by account_id limit ?`, [workId, limit]); // metered_work_work_idx
    return rows.map(PostgresLedgerStore.workRow);
  }

  async dueWork(chargedBefore: Date, limit: number, after?: WorkRow): Promise<WorkRow[]> {
    const rows = await sql<WorkRow>(
      this.em(),
      // metered_work_running_idx
      `select * from ledger.metered_work where state = 'running' and charged_until < ?
          ${after ? "and (charged_until, account_id, work_id) > (?, ?, ?)" : ""}
        order by charged_until, account_id, work_id limit ?`,
      [chargedBefore, ...(after ? [after.charged_until, after.account_id, after.work_id] : []), limit],
    );
    return rows.map(PostgresLedgerStore.workRow);
  }

  async recall(accountId: string, key: string, requestHash: string): Promise<unknown> {
    const [row] = await sql<{ request_hash: string; response: unknown }>(
      this.em(),
      `select request_hash, response from ledger.idempotency_keys where account_id = ? and idempotency_key = ?`,
      [accountId, key],
    );
    if (!row) return undefined;
    if (row.request_hash !== requestHash) throw new IdempotencyKeyReusedError(key);
    return row.response;
  }

  async recorded(accountId: string, key: string): Promise<boolean> {
    const rows = await sql(this.em(), `select 1 from ledger.idempotency_keys where account_id = ? and idempotency_key = ?`, [accountId, key]);
    return rows.length > 0;
  }

  async remember(accountId: string, key: string, operation: string, requestHash: string, response: unknown): Promise<void> {
    await sql(
      this.em(),
      `insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response)
       values (?, ?, ?, ?, ?::jsonb) on conflict (account_id, idempotency_key) do nothing`,
      [accountId, key, operation, requestHash, JSON.stringify(response)],
    );
  }

  async pruneIdempotencyKeys(retentionMs: number, limit: number): Promise<number> {
    const rows = await sql<{ idempotency_key: string }>(
      this.em(),
      `delete from ledger.idempotency_keys where ctid in (
         select ctid from ledger.idempotency_keys where created_at < now() - make_interval(secs => ? / 1000.0) limit ?)
       returning idempotency_key`,
      [retentionMs, limit],
    );
    return rows.length;
  }

  async pruneOutbox(retentionMs: number, limit: number): Promise<number> {
    const [row] = await sql<{ count: number }>(
      this.em(),
      `with pruned as (
         delete from ledger.outbox where id in (
           select id from ledger.outbox
            where sequence < (select max(sequence) from ledger.outbox) and created_at < now() - make_interval(secs => ? / 1000.0)
              and not exists (select 1 from ledger.outbox_consumers c where c.acknowledged_through < ledger.outbox.sequence)
            order by sequence limit ?)
         returning sequence),
       marked as (
         update ledger.outbox_retention set pruned_through = greatest(pruned_through, (select max(sequence) from pruned))
          where exists (select 1 from pruned))
       select count(*)::int as count from pruned`,
      [retentionMs, limit],
    );
    return row!.count;
  }

  async acknowledgeEvents(consumer: string, through: bigint): Promise<bigint> {
    const [row] = await sql<{ through: string }>(
      this.em(),
      `insert into ledger.outbox_consumers as c (consumer, acknowledged_through)
       values (?, least(?::bigint, (select coalesce(max(sequence), 0) from ledger.outbox)))
       on conflict (consumer) do update
         set acknowledged_through = greatest(c.acknowledged_through, excluded.acknowledged_through), acknowledged_at = now()
       returning acknowledged_through::text as through`,
      [consumer, through.toString()],
    );
    return BigInt(row!.through);
  }

  async outboxPrunedThrough(): Promise<bigint> {
    const [row] = await sql<{ through: string }>(this.em(), `select pruned_through::text as through from ledger.outbox_retention`);
    return BigInt(row?.through ?? 0);
  }

  async expiredHoldAccounts(limit: number): Promise<string[]> {
    // holds_open_expiry_idx
    const rows = await sql<{ account_id: string }>(
      this.em(),
      `select distinct account_id from (select account_id from ledger.holds where status = 'open' and expires_at <= now() order by expires_at limit ?) due`,
      [limit],
    );
    return rows.map((r) => r.account_id);
  }

  async expiredPoolAccounts(limit: number): Promise<string[]> {
    const rows = await sql<{ account_id: string }>(
      this.em(),
      // One that owes waits for a pool to take its debt (rules/pool-expiry.ts): the account's next write moves it.
      `select distinct account_id from ledger.pools where not closed and kind not in ('monthly', 'spend_cap') and expires_at <= now() and balance_micros >= 0 limit ?`,
      [limit],
    );
    return rows.map((r) => r.account_id);
  }

  account(accountId: string) {
    return this.em().findOne(LedgerAccountSchema, { accountId });
  }

  pools(accountId: string) {
    return this.em().find(PoolSchema, { accountId, closed: false }, { orderBy: { createdAt: "asc" } });
  }

  balances(accountId: string) {
    return this.em().find(BalanceSchema, { accountId });
  }

  hold(holdId: string) {
    return this.em().findOne(HoldSchema, { holdId });
  }

  entries(filter: EntryFilter & { beforeId?: bigint; limit: number }) {
    return this.em().find(
      EntrySchema,
      {
        accountId: filter.accountId,
        ...(filter.attribution && Object.keys(filter.attribution).length > 0 ? { attribution: filter.attribution } : {}),
        ...(filter.holdId ? { holdId: filter.holdId } : {}),
        ...(filter.kind ? { kind: filter.kind } : {}),
        ...(filter.beforeId ? { entryId: { $lt: filter.beforeId.toString() } } : {}),
      },
      { orderBy: { entryId: "desc" }, limit: filter.limit },
    );
  }

  entriesRecorded(filter: EntryFilter & { period: RecordedPeriod; after?: NewestFirstCursor; limit: number }): Promise<Paged<Entry>[]> {
    const { period, attribution } = filter;
    // Ordered by time, not id (ids are taken before the time is read, and replicas read their own clocks): a period long past is
    // one range of entries_recorded_idx, where newest first by id walked every newer entry of the account.
    const conditions = [
      { sql: "account_id = ?", params: [filter.accountId] },
      // As instants in UTC: a Date the driver sends in the process's time zone can be seconds off where that zone's offset was not whole minutes.
      period.from && { sql: "created_at >= ?::timestamptz", params: [period.from.toISOString()] },
      period.before && { sql: "created_at < ?::timestamptz", params: [period.before.toISOString()] },
      filter.holdId && { sql: "hold_id = ?", params: [filter.holdId] },
      filter.kind && { sql: "kind = ?", params: [filter.kind] },
      attribution && Object.keys(attribution).length > 0 && { sql: "attribution @> ?::jsonb", params: [JSON.stringify(attribution)] },
    ];
    return newestFirstEntities(
      this.em(),
      { table: "ledger.entries", idColumn: "entry_id", idOrder: "desc", conditions, ...(filter.after ? { after: filter.after } : {}), limit: filter.limit }, // entries_recorded_idx
      (ids) => this.em().find(EntrySchema, { accountId: filter.accountId, entryId: { $in: ids } }),
      (entry) => entry.entryId,
    );
  }

  /** The `reverse` entries that returned these charges: charge entry id → reversing entry id. */
  async reversals(accountId: string, entryIds: string[]): Promise<Map<string, string>> {
    if (entryIds.length === 0) return new Map();
    const found = await this.em().find(EntrySchema, { accountId, reversesEntryId: { $in: entryIds } }, { fields: ["entryId", "reversesEntryId"] });
    return new Map(found.map((e) => [e.reversesEntryId!, e.entryId]));
  }

  /** The lines of these entries, each named with its account (lines_pkey). */
  lines(entries: { accountId: string; entryId: string }[]) {
    if (entries.length === 0) return Promise.resolve([]);
    const accountIds = [...new Set(entries.map((e) => e.accountId))];
    // Entry ids are unique on their own: the account narrows the index scan, the id picks the lines.
    return this.em().find(LineSchema, { accountId: { $in: accountIds }, entryId: { $in: entries.map((e) => e.entryId) } }, { orderBy: { entryId: "asc", lineNo: "asc" } });
  }

  async budgets(accountId: string, now: Date): Promise<BudgetAnswer[]> {
    const client = await ((await this.em().getConnection().getNativeClient()) as unknown as PgPool).connect();
    try {
      return await budgetsOf(client, accountId, now.getTime());
    } finally {
      client.release();
    }
  }

  async usedSince(accountId: string, unit: string, since: Date): Promise<UsageSince> {
    const [row] = await sql<{ used: string; events: number; first_at: Date | null }>(
      this.em(),
      `select ${saturatedSum("coalesce(sum(amount_micros), 0)")} as used, count(*) filter (where amount_micros > 0)::int as events,
              min(${USAGE_AT}) filter (where amount_micros > 0) as first_at
         from ${USAGE_ENTRIES} usage
        where account_id = ? and unit = ? and ${USAGE_AT} >= ?`,
      [accountId, unit, since],
    );
    return { usedMicros: BigInt(row!.used), events: row!.events, firstAt: row!.first_at ? new Date(row!.first_at) : undefined };
  }

  async search(query: string, limit: number): Promise<SearchFound[]> {
    const matches = await searchMatches(this.em(), query, limit);
    const ids = (target: string) => [...new Set(matches.filter((m) => m.target === target).map((m) => m.id))];
    const [holds, entries, work] = await Promise.all([
      ids("hold").length ? this.em().find(HoldSchema, { holdId: { $in: ids("hold") } }) : [],
      ids("entry").length ? this.em().find(EntrySchema, { entryId: { $in: ids("entry") } }) : [],
      matches.some((m) => m.target === "work")
        ? sql<WorkRow>(this.em(), SEARCH_WORK_SQL, [query.trim(), limit]).then((rows) => rows.map(PostgresLedgerStore.workRow))
        : [],
    ]);
    const holdById = new Map(holds.map((h) => [h.holdId, h]));
    const entryById = new Map(entries.map((e) => [String(e.entryId), e]));
    // Work ids are unique only within an account.
    const workById = new Map(work.map((w) => [`${w.account_id}/${w.work_id}`, w] as const));
    return matches.map((m): SearchFound => {
      const found = { field: m.field, accountId: m.account_id, operation: m.operation };
      const hold = m.target === "hold" ? holdById.get(m.id) : undefined;
      const entry = m.target === "entry" ? entryById.get(m.id) : undefined;
      const row = m.target === "work" ? workById.get(`${m.account_id}/${m.id}`) : undefined;
      return hold ? { ...found, hold } : entry ? { ...found, entry } : row ? { ...found, work: row } : found;
    });
  }

  async outboxAfter(sequence: bigint, limit: number): Promise<OutboxRow[]> {
    await sql(this.em(), `select ledger.sequence_outbox()`);
    return sql<OutboxRow>(
      this.em(),
      // Ordered by the bigint column: a bare `sequence` here would name the text output column.
      `select o.sequence::text as sequence, o.account_id, o.kind, o.payload, o.traceparent, o.created_at from ledger.outbox o
        where o.sequence > ? order by o.sequence limit ?`,
      [sequence.toString(), limit],
    );
  }
}
