import { sql, type EntityManager } from "@tollgate/db";
import { NotFoundError } from "@tollgate/errors";
import { searchMatches, type SearchFound } from "./search.js";
import { EntrySchema, HoldSchema, LedgerAccountSchema, LineSchema, PoolSchema, BalanceSchema, type Entry, type Hold, type LedgerAccount, type Line, type Pool, type Balance } from "./entities.js";

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
}

export interface StartWorkCall {
  kind: "run" | "deployment";
  workId: string;
  accountId: string;
  unit: string;
  usage: unknown;
  replicas: number;
  attribution: Record<string, string>;
  labels: Record<string, string>;
  context: Record<string, string>;
  metered: boolean;
  minAvailableMicros: bigint;
  denial: string;
  idempotencyKey: string;
  requestHash: string;
  endpoint?: string;
  /** The kind of work (empty: none): kept on the row, named by the work's events. */
  workKind?: string;
}

export interface MeterCall {
  workId: string;
  from: Date;
  to: Date;
  amountMicros: bigint;
  unit: string;
  bucket: string;
  rateTableSequence: bigint;
  drawdownOrder: string[];
  thresholdPercents: number[];
  nextState: string | null;
  replicas: number | null;
  traceparent: string;
  traceId: string;
  /** The running totals after this charge: what has been priced, and its price. */
  pricedQuantity: bigint;
  pricedMicros: bigint;
  /**
   * Work of a kind with its own limits: given the unit's balance − held after
   * the charge, the message to stop the work with, or null to go on (the
   * domain's rule, rules/kind-limits.ts).
   */
  stopAfter?: (availableMicros: bigint) => string | null;
}

/** Unmetered work moving on in time: recorded like metered work, with no charge. */
export interface AdvanceCall {
  workId: string;
  from: Date;
  to: Date;
  nextState: string | null;
  replicas: number | null;
  traceparent: string;
}

/**
 * The events of one piece of work written in this transaction name its kind
 * (the SQL functions that write some of them do not know it).
 */
async function nameWorkKind(tx: EntityManager, accountId: string, workId: string, workKind: string): Promise<void> {
  await sql(
    tx,
    `update ledger.outbox set payload = payload || jsonb_build_object('work_kind', ?::text)
      where account_id = ? and sequence is null and kind in ('work_stopped', 'deployment_changed')
        and (payload->>'deployment_id' = ? or payload->>'run_id' = ?) and payload->>'work_kind' is null`,
    [workKind, accountId, workId, workId],
  );
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

/** The ledger's reads, and the writes of metered work that still go through SQL functions (the hot path goes through the state store). */
export interface LedgerStore {
  /** The USD price per whole unit an add-on pool's reloads are billed at (null: none). */
  setReloadPrice(poolId: string, usdMicrosPerUnit: bigint | null): Promise<void>;
  usage(accountId: string, dimension: string | null, since: Date, bucket: "hour" | "day" | "week"): Promise<{ start: Date; key: string; amount: string; requests: string }[]>;
  topUsage(accountId: string, dimension: string, since: Date, offset: number, limit: number): Promise<{ rows: { key: string; amount: string; requests: string }[]; total: bigint }>;
  startWork(call: StartWorkCall): Promise<{ allowed: boolean; reason?: string; available_micros: string; replayed?: boolean }>;
  meterWork(call: MeterCall): Promise<{ stale: boolean; state: string; charged_micros?: string; proceed?: boolean }>;
  advanceWork(call: AdvanceCall): Promise<{ stale: boolean; state: string; charged_micros?: string; proceed?: boolean }>;
  /** The highest sequence of the event stream so far (0 when empty): StreamEvents after it starts from now. */
  latestEventSequence(): Promise<bigint>;
  resumeWork(workId: string): Promise<{ state: string }>;
  work(workId: string): Promise<WorkRow | undefined>;
  listWork(filter: { accountId?: string; kind?: string; state?: string; offset: number; limit: number }): Promise<WorkRow[]>;
  listHolds(filter: { accountId?: string; status?: string; offset: number; limit: number }): Promise<Hold[]>;
  dueWork(chargedBefore: Date, limit: number): Promise<WorkRow[]>;
  /** The stored result of an idempotency key (IDEMPOTENCY_KEY_REUSED when the request differs), or undefined. */
  recall(accountId: string, key: string, requestHash: string): Promise<unknown>;
  remember(accountId: string, key: string, operation: string, requestHash: string, response: unknown): Promise<void>;
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
  entries(filter: { accountId: string; holdId?: string; kind?: string; attribution?: Record<string, string>; beforeId?: bigint; limit: number }): Promise<Entry[]>;
  lines(entryIds: string[]): Promise<Line[]>;
  reversals(accountId: string, entryIds: string[]): Promise<Map<string, string>>;
  /** What the unit's charges since `since` drew: the total, how many drew more than zero, and when the first of those was. */
  usedSince(accountId: string, unit: string, since: Date): Promise<UsageSince>;
  outboxAfter(sequence: bigint, limit: number): Promise<OutboxRow[]>;
  /** Holds, entries and metered work across every account, found by an id a support ticket carries (index-backed). */
  search(query: string, limit: number): Promise<SearchFound[]>;
}

export class PostgresLedgerStore implements LedgerStore {
  constructor(private readonly em: () => EntityManager) {}

  private async one<T>(query: string, params: unknown[], em = this.em()): Promise<T> {
    const [row] = await sql<{ result: T }>(em, query, params);
    return row!.result;
  }

  async setReloadPrice(poolId: string, usdMicrosPerUnit: bigint | null): Promise<void> {
    await sql(this.em(), `update ledger.pools set reload_price_usd_micros = ? where pool_id = ?`, [usdMicrosPerUnit?.toString() ?? null, poolId]);
  }

  /** `dimension` is a validated attribution key or "bucket" (never user text in SQL). */
  private static keyExpression(dimension: string | null): string {
    if (dimension === null) return `''`;
    return dimension === "bucket" ? "bucket" : `coalesce(attribution->>'${dimension}', '')`;
  }

  async usage(accountId: string, dimension: string | null, since: Date, bucket: "hour" | "day" | "week") {
    const rows = await sql<{ start: string | Date; key: string; amount: string; requests: string }>(
      this.em(),
      `select date_trunc('${bucket}', created_at) as start, ${PostgresLedgerStore.keyExpression(dimension)} as key,
              sum(amount_micros)::text as amount, count(*)::text as requests
         from ledger.entries
        where account_id = ? and kind = 'charge' and created_at >= ?
        group by 1, 2 order by 1, 2`,
      [accountId, since],
    );
    return rows.map((row) => ({ ...row, start: new Date(row.start) }));
  }

  async topUsage(accountId: string, dimension: string, since: Date, offset: number, limit: number) {
    const key = PostgresLedgerStore.keyExpression(dimension);
    const rows = await sql<{ key: string; amount: string; requests: string; total: string }>(
      this.em(),
      `select key, amount::text, requests::text, (sum(amount) over ())::text as total from (
         select ${key} as key, sum(amount_micros) as amount, count(*) as requests
           from ledger.entries where account_id = ? and kind = 'charge' and created_at >= ?
          group by 1) t
        order by t.amount desc, t.key limit ? offset ?`,
      [accountId, since, limit, offset],
    );
    const [totals] = await sql<{ total: string }>(
      this.em(),
      `select coalesce(sum(amount_micros), 0)::text as total from ledger.entries where account_id = ? and kind = 'charge' and created_at >= ?`,
      [accountId, since],
    );
    return { rows, total: BigInt(totals?.total ?? "0") };
  }

  startWork(c: StartWorkCall) {
    // The start and its labels in one transaction (labels are descriptive: they change no balance).
    return this.em().transactional(async (tx) => {
      const [row] = await sql<{ result: { allowed: boolean; reason?: string; available_micros: string; replayed?: boolean } }>(
        tx,
        `select ledger.start_work(?, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ?, ?, ?, ?) as result`,
        [c.kind, c.workId, c.accountId, c.unit, JSON.stringify(c.usage), c.replicas, JSON.stringify(c.attribution), c.minAvailableMicros.toString(), c.denial, c.idempotencyKey, c.requestHash, c.endpoint ?? ""],
      );
      // A replay changes nothing (and must not touch the work row a meter tick may hold).
      if (row!.result.allowed && !row!.result.replayed) {
        await sql(tx, `update ledger.metered_work set labels = ?::jsonb, context = ?::jsonb, metered = ?, work_kind = ? where work_id = ?`, [
          JSON.stringify(c.labels), JSON.stringify(c.context), c.metered, c.workKind ?? "", c.workId,
        ]);
        if (c.workKind) await nameWorkKind(tx, c.accountId, c.workId, c.workKind);
      }
      return row!.result;
    });
  }

  meterWork(c: MeterCall) {
    // The charge and the running totals it was priced from, in one transaction: a tick that lost the race changes neither.
    return this.em().transactional(async (tx) => {
      const result = await this.one<{ stale: boolean; state: string; charged_micros?: string; proceed?: boolean }>(
        `select ledger.meter_work(?, ?, ?, ?, ?, ?, ?, ?::text[], ?::integer[], ?, ?, ?, ?) as result`,
        [
          c.workId, c.from, c.to, c.amountMicros.toString(), c.unit, c.bucket, c.rateTableSequence.toString(), `{${c.drawdownOrder.join(",")}}`,
          `{${c.thresholdPercents.join(",")}}`, c.nextState, c.replicas, c.traceparent, c.traceId,
        ],
        tx,
      );
      if (!result.stale) {
        await sql(tx, `update ledger.metered_work set priced_quantity = ?, priced_micros = ? where work_id = ?`, [c.pricedQuantity.toString(), c.pricedMicros.toString(), c.workId]);
        const [work] = await sql<{ account_id: string; kind: string; work_kind: string }>(tx, `select account_id, kind, work_kind from ledger.metered_work where work_id = ?`, [c.workId]);
        if (c.stopAfter && result.charged_micros !== undefined && (result.state === "running" || result.state === "paused")) {
          const [room] = await sql<{ available: string }>(
            tx, `select (ledger.total_balance(account_id, unit) - held_micros)::text as available from ledger.balances where account_id = ? and unit = ?`, [work!.account_id, c.unit],
          );
          const message = c.stopAfter(BigInt(room?.available ?? "0"));
          if (message !== null) {
            // The kind's negative limit is reached: the work stops as at the unit's, with the kind's message.
            await sql(tx, `update ledger.metered_work set state = 'stopped', stop_reason = 'negative limit reached', ended_at = coalesce(ended_at, now()) where work_id = ?`, [c.workId]);
            await sql(tx, `insert into ledger.outbox (account_id, kind, payload, traceparent) values (?, 'work_stopped', ?::jsonb, ?)`, [
              work!.account_id,
              JSON.stringify({ run_id: work!.kind === "run" ? c.workId : "", deployment_id: work!.kind === "deployment" ? c.workId : "", message }),
              c.traceparent,
            ]);
            result.state = "stopped";
            result.proceed = false;
          }
        }
        if (work?.work_kind) await nameWorkKind(tx, work.account_id, c.workId, work.work_kind);
      }
      return result;
    });
  }

  /**
   * Moves unmetered work on in time (active time, replicas, state) as
   * ledger.meter_work does, without a charge: a tick whose `from` is no longer
   * `charged_until` does nothing, and undeploying tells the stream.
   */
  advanceWork(c: AdvanceCall) {
    return this.em().transactional(async (tx) => {
      const [work] = await sql<WorkRow>(tx, `select * from ledger.metered_work where work_id = ? for update`, [c.workId]);
      if (!work) throw new NotFoundError("work", c.workId);
      if (new Date(work.charged_until).getTime() !== c.from.getTime()) return { stale: true, state: work.state };
      const state = c.nextState ?? work.state;
      await sql(
        tx,
        `update ledger.metered_work
            set charged_until = ?,
                active_ms = active_ms + case when state = 'running' then ? else 0 end,
                replicas = coalesce(?, replicas),
                state = ?,
                ended_at = case when ? not in ('running', 'paused') then coalesce(ended_at, now()) else ended_at end
          where work_id = ?`,
        [c.to, Math.max(0, c.to.getTime() - c.from.getTime()), c.replicas, state, state, c.workId],
      );
      if (work.kind === "deployment" && state === "undeployed" && work.state !== "undeployed") {
        await sql(
          tx,
          `insert into ledger.outbox (account_id, kind, payload, traceparent) values (?, 'deployment_changed', ?::jsonb, ?)`,
          [work.account_id, JSON.stringify({ deployment_id: c.workId, state: "undeployed", endpoint: (work as WorkRow & { endpoint: string }).endpoint, replicas: work.replicas }), c.traceparent],
        );
      }
      return { stale: false, state, charged_micros: "0", proceed: true };
    });
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

  resumeWork(workId: string) {
    return this.one<{ state: string }>(`select ledger.resume_work(?) as result`, [workId]);
  }

  private static workRow(row: WorkRow & { charged_until: string | Date }): WorkRow {
    return {
      ...row,
      charged_until: new Date(row.charged_until),
      created_at: new Date(row.created_at),
      ended_at: row.ended_at ? new Date(row.ended_at) : null,
    };
  }

  async listWork(filter: { accountId?: string; kind?: string; state?: string; offset: number; limit: number }): Promise<WorkRow[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (sqlText: string, value: unknown) => {
      conditions.push(sqlText);
      params.push(value);
    };
    if (filter.accountId) where("account_id = ?", filter.accountId);
    if (filter.kind) where("kind = ?", filter.kind);
    if (filter.state) where("state = ?", filter.state);
    const rows = await sql<WorkRow>(
      this.em(),
      `select * from ledger.metered_work ${conditions.length ? `where ${conditions.join(" and ")}` : ""}
        order by created_at desc, work_id limit ? offset ?`,
      [...params, filter.limit, filter.offset],
    );
    return rows.map(PostgresLedgerStore.workRow);
  }

  listHolds(filter: { accountId?: string; status?: string; offset: number; limit: number }): Promise<Hold[]> {
    return this.em().find(
      HoldSchema,
      { ...(filter.accountId ? { accountId: filter.accountId } : {}), ...(filter.status ? { status: filter.status } : {}) },
      { orderBy: { createdAt: "desc", holdId: "asc" }, limit: filter.limit, offset: filter.offset },
    );
  }

  async work(workId: string): Promise<WorkRow | undefined> {
    const [row] = await sql<WorkRow>(this.em(), `select * from ledger.metered_work where work_id = ?`, [workId]);
    return row ? PostgresLedgerStore.workRow(row) : undefined;
  }

  async dueWork(chargedBefore: Date, limit: number): Promise<WorkRow[]> {
    const rows = await sql<WorkRow>(
      this.em(),
      `select * from ledger.metered_work where state = 'running' and charged_until < ? order by charged_until limit ?`,
      [chargedBefore, limit],
    );
    return rows.map(PostgresLedgerStore.workRow);
  }

  async recall(accountId: string, key: string, requestHash: string): Promise<unknown> {
    const [row] = await sql<{ result: unknown }>(this.em(), `select ledger.replayed(?, ?, ?) as result`, [accountId, key, requestHash]);
    return row?.result ?? undefined;
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
      `select distinct account_id from ledger.pools where not closed and kind not in ('monthly', 'spend_cap') and expires_at <= now() limit ?`,
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

  entries(filter: { accountId: string; holdId?: string; kind?: string; attribution?: Record<string, string>; beforeId?: bigint; limit: number }) {
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

  /** The `reverse` entries that returned these charges: charge entry id → reversing entry id. */
  async reversals(accountId: string, entryIds: string[]): Promise<Map<string, string>> {
    if (entryIds.length === 0) return new Map();
    const found = await this.em().find(EntrySchema, { accountId, reversesEntryId: { $in: entryIds } }, { fields: ["entryId", "reversesEntryId"] });
    return new Map(found.map((e) => [e.reversesEntryId!, e.entryId]));
  }

  lines(entryIds: string[]) {
    return entryIds.length === 0 ? Promise.resolve([]) : this.em().find(LineSchema, { entryId: { $in: entryIds } }, { orderBy: { entryId: "asc", lineNo: "asc" } });
  }

  async usedSince(accountId: string, unit: string, since: Date): Promise<UsageSince> {
    const [row] = await sql<{ used: string; events: number; first_at: Date | null }>(
      this.em(),
      `select coalesce(sum(amount_micros), 0)::text as used, count(*) filter (where amount_micros > 0)::int as events,
              min(created_at) filter (where amount_micros > 0) as first_at
         from ledger.entries
        where account_id = ? and unit = ? and kind = 'charge' and created_at >= ?`,
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
      Promise.all(ids("work").map((id) => this.work(id))),
    ]);
    const holdById = new Map(holds.map((h) => [h.holdId, h]));
    const entryById = new Map(entries.map((e) => [String(e.entryId), e]));
    const workById = new Map(work.flatMap((w) => (w ? [[w.work_id, w] as const] : [])));
    return matches.map((m): SearchFound => {
      const found = { field: m.field, accountId: m.account_id, operation: m.operation };
      const hold = m.target === "hold" ? holdById.get(m.id) : undefined;
      const entry = m.target === "entry" ? entryById.get(m.id) : undefined;
      const row = m.target === "work" ? workById.get(m.id) : undefined;
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
