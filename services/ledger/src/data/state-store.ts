import type { Usage } from "@tollgate/rating";
import type { Command } from "../domain/commands.js";
import { atCommit } from "../domain/commit-rules.js";
import { emptyAccount, type AccountState, type Hold, type HoldStatus, type EntryKind, type IdempotencyRecord, type Ids, type LedgerState, type Pool, type PoolKind, type Work } from "../domain/state.js";
import { IdsExhausted, type LedgerJournal, type LedgerStateStore } from "../domain/store.js";
import { applyWrites, chargeRecordOf, type Entry, type OutboxEvent, type Write } from "../domain/writes.js";
import { addBudgets, budgetRowsJson, budgetWriteStatements, type BudgetRow } from "./budgets.js";
import { commitEffectStatements } from "./commit-effects.js";
import { PreparedStatements } from "./prepared-statements.js";
import { inline, prepared, type Statement } from "./sql-literals.js";
import { TimeOrderedIds } from "./time-ordered-ids.js";
import { decodeAnswer, encodeAnswer } from "./stored-answers.js";
import { usageFromJson } from "./usage-json.js";
import { insertWorkStatement, toWork, updateWorkStatement, WORK_COLUMNS, type WorkRow } from "./work-rows.js";

/** The part of a `pg` client the store uses (the pool behind the ORM: `connectionPool(orm)`). */
export interface PgClient {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
  query(text: string, callback: (error: Error | undefined, result: unknown) => void): void;
  release(error?: Error | boolean): void;
}

export interface PgPool {
  connect(): Promise<PgClient>;
}

/** Epoch milliseconds in SQL, exactly (no float on the way). */
const TS = (param: string) => `(timestamptz 'epoch' + ${param} * interval '1 millisecond')`;
const MS = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint::text`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Statements sent in one round trip (the simple query protocol); each one's rows, in order. */
/**
 * A transaction's prepared statements keep one generic plan each: planned
 * once per connection, never again per batch. Every statement of the store
 * reads by key (an account, an id), so no plan may scan a whole table: a plan
 * made while a table was small would otherwise keep scanning it as it grows.
 */
const PLANNING = ["set local plan_cache_mode = force_generic_plan", "set local enable_seqscan = off"];

/** Errors a transaction may meet only because another one ran beside it: the batch is tried again. */
const RETRYABLE = new Set(["40P01", "40001", "23505"]);
const ATTEMPTS = 4;

/** Entry ids reserved from the `entries` sequence for one batch; the batch asks for more when they run out. */
/** One per process: pools and holds sort in the order this ledger made them. */
const timeOrdered = new TimeOrderedIds();

class ReservedIds implements Ids {
  private next = 0;
  constructor(private readonly entryIds: bigint[]) {}
  entryId(): bigint {
    const id = this.entryIds[this.next++];
    if (id === undefined) throw new IdsExhausted("reserved entry ids ran out");
    return id;
  }
  holdId(): string {
    return timeOrdered.next();
  }
  poolId(): string {
    return timeOrdered.next();
  }
}

/** What the commands of a batch name, beyond their accounts' live rows. */
interface Named {
  accounts: string[];
  holdIds: string[];
  poolIds: string[];
  workIds: string[];
  keys: { accountId: string; key: string }[];
  grantKeys: string[];
  /** Cycle grant keys (`monthly:<account>:<unit>:<start>`), stored with the start as PostgreSQL prints a timestamptz. */
  cycleKeys: { accountId: string; unit: string; startMs: number }[];
  /** Charge entries a reversal names. */
  entryIds: { accountId: string; entryId: string }[];
  /** Entry ids to reserve from the sequence up front (more are reserved if the batch needs them). */
  reserve: number;
}

function named(commands: readonly Command[]): Named {
  const accounts = [...new Set(commands.map((c) => c.accountId))].sort(byCodeUnit);
  const n: Named = { accounts, holdIds: [], poolIds: [], workIds: [], keys: [], grantKeys: [], cycleKeys: [], entryIds: [], reserve: commands.length * 3 + 4 };
  for (const c of commands) {
    if ("idempotencyKey" in c) n.keys.push({ accountId: c.accountId, key: c.idempotencyKey });
    if ((c.type === "meter" || c.type === "resumeWork") && c.call) n.keys.push({ accountId: c.accountId, key: c.call.idempotencyKey });
    switch (c.type) {
      case "charge":
        if (c.holdId) n.holdIds.push(c.holdId);
        break;
      case "release":
      case "extendHold":
        n.holdIds.push(c.holdId);
        break;
      case "reverse":
        n.entryIds.push({ accountId: c.accountId, entryId: c.entryId.toString() });
        break;
      case "adjust":
        n.poolIds.push(c.poolId);
        break;
      case "grant":
        n.grantKeys.push(`grant:${c.accountId}:${c.idempotencyKey}`);
        break;
      case "startWork":
      case "meter":
      case "resumeWork":
        n.workIds.push(c.workId);
        break;
      case "rollOver":
        for (const u of c.units) n.cycleKeys.push({ accountId: c.accountId, unit: u.unit, startMs: c.cycleStartMs });
        for (const g of c.signupGrants) n.grantKeys.push(`signup:${c.accountId}:${g.unit}`);
        break;
      default:
        break;
    }
  }
  n.holdIds = n.holdIds.filter((id) => UUID.test(id));
  n.poolIds = n.poolIds.filter((id) => UUID.test(id));
  return n;
}

/** The order rows are locked in wherever one transaction takes several: by code unit, as PostgreSQL's "C" collation sorts. */
export const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Rows {
  accounts: { account_id: string; plan_id: string; plan_version: string; start_ms: string; end_ms: string; opened_ms: string | null }[];
  balances: { account_id: string; unit: string; held_micros: string; negative_limit_micros: string; low_credit_limit_micros: string; crossed_percents: number[] }[];
  pools: PoolRow[];
  holds: HoldRow[];
  keys: { account_id: string; idempotency_key: string; operation: string; request_hash: string; response: unknown; at_ms: string }[];
  work: WorkRow[];
  namedEntries: NamedEntryRow[];
  /** Every budget of the accounts (data/budgets.ts). */
  budgets: BudgetRow[];
  /** Entry ids reserved for the batch. */
  ids: bigint[];
}

/** An entry a reversal names: its kind, and for a charge what it drew and whether it was reversed. */
interface NamedEntryRow {
  entry_id: string; kind: EntryKind; account_id: string; unit: string; bucket: string; amount_micros: string; attribution: Record<string, string>; at_ms: string;
  occurred_at_ms: string | null; reversed_by: string | null;
  lines: { pool_id: string | null; amount_micros: string }[];
}

interface PoolRow {
  pool_id: string; account_id: string; unit: string; kind: PoolKind; priority: number; expires_ms: string | null; created_ms: string; balance_micros: string;
  granted_micros: string; closed: boolean; grant_key: string | null; reload_below_micros: string; reload_to_micros: string; reload_cooldown_ms: string; reloaded_ms: string | null;
  reload_price_usd_micros: string | null; allotted_micros: string | null;
}

interface HoldRow {
  hold_id: string; account_id: string; unit: string; bucket: string; amount_micros: string; charged_micros: string; status: HoldStatus; expires_ms: string;
  created_ms: string; closed_ms: string | null; attribution: Record<string, string>; rate_table_version: string; priced_usage: unknown[]; priced_micros: string;
}

/** A cycle grant key as the state machine names it: the cycle start in epoch ms (stored as PostgreSQL prints the timestamptz). */
const POOL_COLUMNS = `
  pool_id::text, account_id, unit, kind, priority, ${MS("expires_at")} as expires_ms, ${MS("created_at")} as created_ms,
  balance_micros::text, granted_micros::text, closed,
  case when grant_key like 'monthly:%' and starts_with(grant_key, 'monthly:' || account_id || ':' || unit || ':')
       then 'monthly:' || account_id || ':' || unit || ':' || ${MS(`substr(grant_key, length('monthly:' || account_id || ':' || unit || ':') + 1)::timestamptz`)}
       else grant_key end as grant_key,
  reload_below_micros::text, reload_to_micros::text, reload_cooldown_ms::text, ${MS("reloaded_at")} as reloaded_ms, reload_price_usd_micros::text,
  allotted_micros::text`;

const HOLD_COLUMNS = `
  hold_id::text, account_id, unit, bucket, amount_micros::text, charged_micros::text, status, ${MS("expires_at")} as expires_ms,
  ${MS("created_at")} as created_ms, ${MS("closed_at")} as closed_ms, attribution, rate_table_version::text, priced_usage, priced_micros::text`;

function toPool(r: PoolRow): Pool {
  const reloadTo = BigInt(r.reload_to_micros);
  return {
    poolId: r.pool_id, accountId: r.account_id, unit: r.unit, kind: r.kind, priority: r.priority, expiresAtMs: r.expires_ms === null ? null : Number(r.expires_ms),
    createdAtMs: Number(r.created_ms), balanceMicros: BigInt(r.balance_micros), grantedMicros: BigInt(r.granted_micros), closed: r.closed, grantKey: r.grant_key ?? "",
    reload: reloadTo > 0n
      ? {
          belowMicros: BigInt(r.reload_below_micros), toMicros: reloadTo, cooldownMs: Number(r.reload_cooldown_ms),
          ...(r.reload_price_usd_micros === null ? {} : { priceUsdMicros: BigInt(r.reload_price_usd_micros) }),
        }
      : null,
    reloadedAtMs: r.reloaded_ms === null ? null : Number(r.reloaded_ms),
    ...(r.allotted_micros === null ? {} : { allottedMicros: BigInt(r.allotted_micros) }),
  };
}

function toHold(r: HoldRow): Hold {
  return {
    holdId: r.hold_id, accountId: r.account_id, unit: r.unit, bucket: r.bucket, amountMicros: BigInt(r.amount_micros), chargedMicros: BigInt(r.charged_micros),
    status: r.status, expiresAtMs: Number(r.expires_ms), createdAtMs: Number(r.created_ms), closedAtMs: r.closed_ms === null ? null : Number(r.closed_ms),
    attribution: r.attribution, rateTableVersion: BigInt(r.rate_table_version), pricedUsage: r.priced_usage.map(usageFromJson), pricedMicros: BigInt(r.priced_micros),
  };
}

/** The state the rows make: every account the batch names, an unknown one empty. */
function stateOf(accountIds: readonly string[], rows: Rows): LedgerState {
  const state: LedgerState = new Map(accountIds.map((id) => [id, emptyAccount(id)]));
  const of = (id: string) => state.get(id) ?? state.set(id, emptyAccount(id)).get(id)!;
  for (const r of rows.accounts) {
    of(r.account_id).cycle = {
      planId: r.plan_id, planVersion: BigInt(r.plan_version), startMs: Number(r.start_ms), endMs: Number(r.end_ms), ...(r.opened_ms === null ? {} : { openedAtMs: Number(r.opened_ms) }),
    };
  }
  for (const r of rows.balances) {
    of(r.account_id).units.set(r.unit, {
      unit: r.unit, negativeLimitMicros: BigInt(r.negative_limit_micros), lowCreditLimitMicros: BigInt(r.low_credit_limit_micros),
      heldMicros: BigInt(r.held_micros), crossedPercents: r.crossed_percents,
    });
  }
  for (const r of rows.pools) of(r.account_id).pools.set(r.pool_id, toPool(r));
  for (const r of rows.holds) of(r.account_id).holds.set(r.hold_id, toHold(r));
  for (const r of rows.keys) {
    const record: IdempotencyRecord = { key: r.idempotency_key, operation: r.operation, requestHash: r.request_hash, response: decodeAnswer(r.operation, r.response), atMs: Number(r.at_ms) };
    of(r.account_id).idempotency.set(r.idempotency_key, record);
  }
  for (const r of rows.work) of(r.account_id).work.set(r.work_id, toWork(r));
  for (const r of rows.namedEntries) {
    if (r.kind !== "charge") {
      of(r.account_id).otherEntries.set(r.entry_id, r.kind);
      continue;
    }
    const entry = {
      entryId: BigInt(r.entry_id), accountId: r.account_id, unit: r.unit, bucket: r.bucket, amountMicros: BigInt(r.amount_micros),
      lines: r.lines.map((l) => ({ ledgerAccount: "", poolId: l.pool_id, amountMicros: BigInt(l.amount_micros) })), attribution: r.attribution, atMs: Number(r.at_ms),
      ...(r.occurred_at_ms === null ? {} : { occurredAtMs: Number(r.occurred_at_ms) }),
    };
    of(r.account_id).charges.set(r.entry_id, chargeRecordOf(entry, r.reversed_by === null ? null : BigInt(r.reversed_by)));
  }
  addBudgets(state, rows.budgets);
  return state;
}

const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
const text = (value: bigint | number | null | undefined) => (value === null || value === undefined ? null : value.toString());

/**
 * The ledger's state store on PostgreSQL. A batch is one transaction: it
 * locks its accounts' rows in one order — the `accounts` rows
 * (FOR NO KEY UPDATE, which never blocks the FOR KEY SHARE of a foreign key
 * check), then the work rows it names, then every balance row of those
 * accounts (FOR UPDATE), each by code unit — reads their live pools, open
 * holds and the records of its keys, lets the state machine decide, then
 * applies all writes with one multi-row statement per table and commits — in
 * two round trips: the begin, the locks and the reads in one, the writes and
 * the commit in the other. Every release takes the locks in this one order,
 * so old and new ledgers may run side by side. No SQL function and no
 * subtransaction on the way; a batch that meets a concurrent one (a deadlock,
 * an account opened by two at once) is tried again.
 */
export class PostgresLedgerStateStore implements LedgerStateStore, LedgerJournal {
  constructor(
    private readonly pool: PgPool,
    private readonly options: { onRetry?: (code: string) => void } = {},
  ) {}

  private readonly statements = new PreparedStatements();

  /**
   * Reads, for each account: the cycle, every balance row, the live pools,
   * the closed free grants (FREE_CREDITS_EXPIRED is decided from them), the
   * open holds, and what the commands name — holds, pools, work, grant keys
   * and idempotency keys.
   */
  async transact<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(commands, decide);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= ATTEMPTS || typeof code !== "string" || !RETRYABLE.has(code)) throw error;
        this.options.onRetry?.(code);
      }
    }
  }

  private async attempt<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      try {
        // Round trip 1: begin, the locks in their order, the reads.
        const names = named(commands);
        const reads = this.reads(names, true);
        const opening = ["begin", ...PLANNING];
        const rows = reads.rows((await this.statements.send(client, [...opening, ...reads.statements])).slice(opening.length));
        let reserved = rows.ids;
        let decided: { value: T; writes: readonly Write[] };
        for (;;) {
          try {
            decided = decide(stateOf(names.accounts, rows), new ReservedIds(reserved));
            break;
          } catch (error) {
            if (!(error instanceof IdsExhausted)) throw error;
            reserved = [...reserved, ...(await reserveEntryIds(client, reserved.length * 2))];
          }
        }
        // Round trip 2: every write, what the commit rules add, then the commit.
        const read = stateOf(names.accounts, rows);
        await this.statements.send(client, [...writeStatements(read, decided.writes), ...commitEffectStatements(atCommit(read, decided.writes)), "commit"]);
        return decided.value;
      } catch (error) {
        await client.query("rollback").catch((e: unknown) => (broken = e as Error));
        throw error;
      }
    } finally {
      client.release(broken ?? (this.statements.mustDiscard(client) ? new Error("a message that prepared statements failed") : undefined));
    }
  }

  /**
   * The statements that read a batch's rows, in the order their locks are
   * taken (`lock`: the batch's locks), and how to make rows of their results.
   */
  private reads(n: Named, lock: boolean): { statements: Statement[]; rows: (results: unknown[][]) => Rows } {
    const statements: Statement[] = [
      prepared(
        `select account_id, plan_id, plan_version::text, ${MS("cycle_start")} as start_ms, ${MS("cycle_end")} as end_ms, ${MS("cycle_opened_at")} as opened_ms
           from ledger.accounts where account_id = any($1::text[]) order by account_id collate "C" ${lock ? "for no key update" : ""}`,
        [n.accounts],
      ),
    ];
    // Work rows are locked only when a command names one (ticks, starts).
    const readsWork = !lock || n.workIds.length > 0;
    // Unlocked (support) reads take every row of the account: written into the text, so a generic plan of the locked one has nothing to fold.
    const every = lock ? "false" : "true";
    if (readsWork) {
      statements.push(prepared(
        `select ${WORK_COLUMNS} from ledger.metered_work where account_id = any($1::text[]) and (${every} or work_id = any($2::text[]))
          order by work_id collate "C" ${lock ? "for update" : ""}`,
        [n.accounts, n.workIds],
      ));
    }
    statements.push(prepared(
      `select account_id, unit, held_micros::text, negative_limit_micros::text, low_credit_limit_micros::text, crossed_percents
         from ledger.balances where account_id = any($1::text[]) order by account_id collate "C", unit collate "C" ${lock ? "for update" : ""}`,
      [n.accounts],
    ));
    // What the locks protect (budgets included: every write to them takes the accounts' locks first), and the batch's entry ids.
    // Pools by `pools_pkey` (every pool of the account: closed ones for grant keys); open holds by `holds_open_account_idx`, named ones by `holds_pkey`.
    statements.push(prepared(
      `select
         (select coalesce(json_agg(p), '[]') from (
            select ${POOL_COLUMNS} from ledger.pools
             where account_id = any($1::text[])
               and (${every} or not closed or kind = 'free_grant' or pool_id = any($2::uuid[]) or grant_key = any($3::text[])
                    or grant_key = any(select 'monthly:' || a || ':' || u || ':' || ${TS("ms")}::text from unnest($4::text[], $5::text[], $6::bigint[]) as k(a, u, ms)))) p) as pools,
         (select coalesce(json_agg(h), '[]') from (
            select ${HOLD_COLUMNS} from ledger.holds where account_id = any($1::text[]) and (${every} or status = 'open')
            union all
            select ${HOLD_COLUMNS} from ledger.holds where account_id = any($1::text[]) and not ${every} and hold_id = any($7::uuid[]) and status <> 'open') h) as holds,
         (select coalesce(json_agg(i), '[]') from (
            select i.account_id, i.idempotency_key, i.operation, i.request_hash, i.response, ${MS("i.created_at")} as at_ms
              from ledger.idempotency_keys i where ${every} and i.account_id = any($1::text[])
            union all -- by primary key, one probe per key
            select i.account_id, i.idempotency_key, i.operation, i.request_hash, i.response, ${MS("i.created_at")} as at_ms
              from unnest($8::text[], $9::text[]) as k(a, key) join ledger.idempotency_keys i on i.account_id = k.a and i.idempotency_key = k.key
             where not ${every}) i) as keys,
         ${budgetRowsJson("$1::text[]")} as budgets,
         array(select nextval('ledger.entries_entry_id_seq')::text from generate_series(1, $10::int)) as ids`,
      [
        n.accounts, n.poolIds, n.grantKeys, n.cycleKeys.map((k) => k.accountId), n.cycleKeys.map((k) => k.unit), n.cycleKeys.map((k) => k.startMs),
        n.holdIds, n.keys.map((k) => k.accountId), n.keys.map((k) => k.key), lock ? n.reserve : 0,
      ],
    ));
    // Entries a reversal names (support only): for a charge, what it drew from its pools and whether it was reversed
    // (entries_reverses_idx); for another kind, only the kind, which the refusal names.
    const readsEntries = n.entryIds.length > 0;
    if (readsEntries) {
      statements.push(prepared(
        `select e.entry_id::text, e.kind, e.account_id, e.unit, e.bucket, e.amount_micros::text, e.attribution, ${MS("e.created_at")} as at_ms, ${MS("e.occurred_at")} as occurred_at_ms,
                (select r.entry_id::text from ledger.entries r where r.account_id = e.account_id and r.reverses_entry_id = e.entry_id) as reversed_by,
                coalesce((select json_agg(json_build_object('pool_id', l.pool_id, 'amount_micros', l.amount_micros::text)) from ledger.lines l where l.account_id = e.account_id and l.entry_id = e.entry_id), '[]') as lines
           from unnest($1::text[], $2::bigint[]) as k(a, id) join ledger.entries e on e.entry_id = k.id and e.account_id = k.a`,
        [n.entryIds.map((e) => e.accountId), n.entryIds.map((e) => e.entryId)],
      ));
    }
    const rows = (results: unknown[][]): Rows => {
      let i = 0;
      const accounts = results[i++] as Rows["accounts"];
      const work = readsWork ? (results[i++] as WorkRow[]) : [];
      const balances = results[i++] as Rows["balances"];
      const [rest] = results[i++] as { pools: PoolRow[]; holds: HoldRow[]; keys: Rows["keys"]; budgets: BudgetRow[]; ids: string[] }[];
      const namedEntries = readsEntries ? (results[i++] as NamedEntryRow[]) : [];
      return { accounts, balances, pools: rest!.pools, holds: rest!.holds, keys: rest!.keys, work, namedEntries, budgets: rest!.budgets, ids: rest!.ids.map((id) => BigInt(id)) };
    };
    return { statements, rows };
  }

  /** One account as the next transaction would read it, with every pool, hold, key and work it ever had (support tools, tests). */
  async account(accountId: string): Promise<AccountState | undefined> {
    const client = await this.pool.connect();
    try {
      const reads = this.reads({ ...named([]), accounts: [accountId] }, false);
      const rows = reads.rows(await this.statements.send(client, reads.statements));
      if (rows.accounts.length === 0 && rows.balances.length === 0 && rows.pools.length === 0) return undefined;
      return stateOf([accountId], rows).get(accountId);
    } finally {
      client.release();
    }
  }

  async entries(accountId: string): Promise<Entry[]> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{
        entry_id: string; kind: Entry["kind"]; unit: string; hold_id: string | null; bucket: string; amount_micros: string; uncollected_micros: string;
        attribution: Record<string, string>; rate_table_version: string; reason: string; actor: string; trace_id: string; at_ms: string; on_behalf_of: string | null;
        occurred_ms: string | null;
        lines: { ledger_account: string; pool_id: string | null; amount_micros: number | string }[];
      }>(
        `select e.entry_id::text, e.kind, e.unit, e.hold_id::text, e.bucket, e.amount_micros::text, e.uncollected_micros::text, e.attribution,
                e.rate_table_version::text, e.reason, e.actor, e.trace_id, ${MS("e.created_at")} as at_ms, e.on_behalf_of, ${MS("e.occurred_at")} as occurred_ms,
                coalesce((select jsonb_agg(jsonb_build_object('ledger_account', l.ledger_account, 'pool_id', l.pool_id, 'amount_micros', l.amount_micros::text) order by l.line_no)
                            from ledger.lines l where l.account_id = e.account_id and l.entry_id = e.entry_id), '[]') as lines
           from ledger.entries e where e.account_id = $1 order by e.entry_id`,
        [accountId],
      );
      return rows.map((r) => ({
        entryId: BigInt(r.entry_id), accountId, kind: r.kind, unit: r.unit, holdId: r.hold_id, bucket: r.bucket, amountMicros: BigInt(r.amount_micros),
        uncollectedMicros: BigInt(r.uncollected_micros), attribution: r.attribution, rateTableVersion: BigInt(r.rate_table_version), reason: r.reason,
        actor: r.actor, ...(r.on_behalf_of === null ? {} : { onBehalfOf: r.on_behalf_of }), traceId: r.trace_id, atMs: Number(r.at_ms),
        ...(r.occurred_ms === null ? {} : { occurredAtMs: Number(r.occurred_ms) }),
        lines: r.lines.map((l) => ({ ledgerAccount: l.ledger_account, poolId: l.pool_id, amountMicros: BigInt(l.amount_micros) })),
      }));
    } finally {
      client.release();
    }
  }

  async outbox(accountId: string): Promise<OutboxEvent[]> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ kind: OutboxEvent["kind"]; payload: Record<string, unknown>; traceparent: string }>(
        `select kind, payload, traceparent from ledger.outbox where account_id = $1 order by id`,
        [accountId],
      );
      return rows.map((r) => ({ accountId, kind: r.kind, payload: r.payload, traceparent: r.traceparent }));
    } finally {
      client.release();
    }
  }
}

async function reserveEntryIds(client: PgClient, count: number): Promise<bigint[]> {
  const { rows } = await client.query<{ id: string }>(`select nextval('ledger.entries_entry_id_seq')::text as id from generate_series(1, $1::int)`, [count]);
  return rows.map((r) => BigInt(r.id));
}

/** Sums deltas per key, keeping the first-seen order. */
function sum<K>(map: Map<K, bigint>, key: K, delta: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + delta);
}

/**
 * A batch's writes as statements (sent together, with the commit): one per
 * table and kind of change, in an order that satisfies the foreign keys (accounts, balances, pools and
 * holds before the entries and lines that name them). Changes to one row are
 * folded into one update: a hot account's balance row is updated once per
 * batch, however many of its calls the batch carries.
 */
function writeStatements(read: LedgerState, writes: readonly Write[]): Statement[] {
  const statements: Statement[] = [];
  const cycles = new Map<string, Extract<Write, { type: "cycle" }>>();
  const limits = new Map<string, Extract<Write, { type: "unit" }>>();
  const held = new Map<string, bigint>();
  const crossed = new Map<string, number[]>();
  const newPools: Pool[] = [];
  const poolChanges = new Map<string, { accountId: string; balance: bigint; granted: bigint; closed: boolean; reloadedAtMs: number | null; allotted: bigint | null; reloadOff: boolean }>();
  const newHolds: Hold[] = [];
  const holdChanges = new Map<string, { accountId: string; charged: bigint; amount: bigint; expiresAtMs: number | null; status: HoldStatus | null; closedAtMs: number | null; priced: { usage: Usage[]; micros: bigint } | null }>();
  const entries: Entry[] = [];
  const events: OutboxEvent[] = [];
  const keys: { accountId: string; record: IdempotencyRecord }[] = [];
  const newWork: Work[] = [];
  const changedWork = new Set<string>();
  const unitKey = (accountId: string, unit: string) => JSON.stringify([accountId, unit]);
  for (const w of writes) {
    switch (w.type) {
      case "cycle":
        cycles.set(w.accountId, w);
        break;
      case "unit":
        limits.set(unitKey(w.accountId, w.unit), w);
        break;
      case "held":
        sum(held, unitKey(w.accountId, w.unit), w.deltaMicros);
        break;
      case "crossed":
        crossed.set(unitKey(w.accountId, w.unit), w.crossedPercents);
        break;
      case "pool":
        newPools.push(w.pool);
        break;
      case "poolChange": {
        const change = poolChanges.get(w.poolId) ?? { accountId: w.accountId, balance: 0n, granted: 0n, closed: false, reloadedAtMs: null, allotted: null, reloadOff: false };
        change.balance += w.balanceDeltaMicros;
        change.granted += w.grantedDeltaMicros;
        change.closed ||= w.closed === true;
        change.reloadedAtMs = w.reloadedAtMs ?? change.reloadedAtMs;
        change.allotted = w.allottedMicros ?? change.allotted;
        change.reloadOff ||= w.reloadOff === true;
        poolChanges.set(w.poolId, change);
        break;
      }
      case "hold":
        newHolds.push(w.hold);
        break;
      case "holdChange": {
        const change = holdChanges.get(w.holdId) ?? { accountId: w.accountId, charged: 0n, amount: 0n, expiresAtMs: null, status: null, closedAtMs: null, priced: null };
        change.charged += w.chargedDeltaMicros;
        change.amount += w.amountDeltaMicros ?? 0n;
        change.expiresAtMs = w.expiresAtMs ?? change.expiresAtMs;
        change.status = w.status ?? change.status;
        change.closedAtMs = w.closedAtMs ?? change.closedAtMs;
        change.priced = w.priced ?? change.priced; // the latest running total replaces the ones before
        holdChanges.set(w.holdId, change);
        break;
      }
      case "entry":
        entries.push(w.entry);
        break;
      case "outbox":
        events.push(w.event);
        break;
      case "idempotency":
        keys.push({ accountId: w.accountId, record: w.record });
        break;
      case "work":
        newWork.push(w.work);
        break;
      case "workChange":
        changedWork.add(JSON.stringify([w.accountId, w.workId]));
        break;
    }
  }

  if (cycles.size > 0) {
    const rows = [...cycles.values()];
    statements.push(prepared(
      `insert into ledger.accounts (account_id, plan_id, plan_version, cycle_start, cycle_end, cycle_opened_at)
       select a, p, v, ${TS("s")}, ${TS("e")}, ${TS("o")} from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) as x(a, p, v, s, e, o)
       on conflict (account_id) do update
         set plan_id = excluded.plan_id, plan_version = excluded.plan_version, cycle_start = excluded.cycle_start, cycle_end = excluded.cycle_end,
             cycle_opened_at = excluded.cycle_opened_at`,
      [
        rows.map((r) => r.accountId), rows.map((r) => r.cycle.planId), rows.map((r) => text(r.cycle.planVersion)), rows.map((r) => r.cycle.startMs), rows.map((r) => r.cycle.endMs),
        rows.map((r) => r.cycle.openedAtMs ?? null),
      ],
    ));
  }
  if (limits.size > 0) {
    const rows = [...limits.values()];
    statements.push(prepared(
      `insert into ledger.balances (account_id, unit, negative_limit_micros, low_credit_limit_micros)
       select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
       on conflict (account_id, unit) do update
         set negative_limit_micros = excluded.negative_limit_micros, low_credit_limit_micros = excluded.low_credit_limit_micros`,
      [rows.map((r) => r.accountId), rows.map((r) => r.unit), rows.map((r) => text(r.negativeLimitMicros)), rows.map((r) => text(r.lowCreditLimitMicros))],
    ));
  }
  if (newPools.length > 0) {
    // A cycle's grant key is stored with its start as PostgreSQL prints a timestamptz, as earlier releases wrote it.
    const cycleStart = (p: Pool) => {
      const prefix = `monthly:${p.accountId}:${p.unit}:`;
      const rest = p.grantKey.startsWith(prefix) ? p.grantKey.slice(prefix.length) : "";
      return /^\d+$/.test(rest) ? rest : null;
    };
    statements.push(prepared(
      `insert into ledger.pools (pool_id, account_id, unit, kind, priority, expires_at, balance_micros, granted_micros, closed, grant_key, created_at,
                                 reload_below_micros, reload_to_micros, reload_cooldown_ms, reloaded_at, reload_price_usd_micros, allotted_micros)
       select id, a, u, k, pr, ${TS("ex")}, b, g, c,
              case when cs is null then gk else 'monthly:' || a || ':' || u || ':' || ${TS("cs")}::text end,
              ${TS("cr")}, rb, rt, rc, ${TS("ra")}, rp, al
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::boolean[], $10::text[],
                     $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[])
           as x(id, a, u, k, pr, ex, b, g, c, gk, cs, cr, rb, rt, rc, ra, rp, al)`,
      [
        newPools.map((p) => p.poolId), newPools.map((p) => p.accountId), newPools.map((p) => p.unit), newPools.map((p) => p.kind), newPools.map((p) => p.priority),
        newPools.map((p) => p.expiresAtMs), newPools.map((p) => text(p.balanceMicros)), newPools.map((p) => text(p.grantedMicros)), newPools.map((p) => p.closed),
        newPools.map((p) => p.grantKey || null), newPools.map(cycleStart), newPools.map((p) => p.createdAtMs),
        newPools.map((p) => text(p.reload?.belowMicros ?? 0n)), newPools.map((p) => text(p.reload?.toMicros ?? 0n)), newPools.map((p) => p.reload?.cooldownMs ?? 0),
        newPools.map((p) => p.reloadedAtMs), newPools.map((p) => (p.reload?.priceUsdMicros === undefined ? null : text(p.reload.priceUsdMicros))),
        newPools.map((p) => (p.allottedMicros === undefined ? null : text(p.allottedMicros))),
      ],
    ));
  }
  if (newHolds.length > 0) {
    statements.push(prepared(
      `insert into ledger.holds (hold_id, account_id, unit, bucket, amount_micros, charged_micros, status, expires_at, created_at, closed_at, attribution, rate_table_version)
       select id, a, u, bk, am, ch, st, ${TS("ex")}, ${TS("cr")}, ${TS("cl")}, at, rv
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::jsonb[], $12::bigint[])
           as x(id, a, u, bk, am, ch, st, ex, cr, cl, at, rv)`,
      [
        newHolds.map((h) => h.holdId), newHolds.map((h) => h.accountId), newHolds.map((h) => h.unit), newHolds.map((h) => h.bucket), newHolds.map((h) => text(h.amountMicros)),
        newHolds.map((h) => text(h.chargedMicros)), newHolds.map((h) => h.status), newHolds.map((h) => h.expiresAtMs), newHolds.map((h) => h.createdAtMs),
        newHolds.map((h) => h.closedAtMs), newHolds.map((h) => json(h.attribution)), newHolds.map((h) => text(h.rateTableVersion)),
      ],
    ));
  }
  if (poolChanges.size > 0) {
    const ids = [...poolChanges.keys()];
    const changes = [...poolChanges.values()];
    statements.push(prepared(
      `update ledger.pools p
          set balance_micros = p.balance_micros + x.b, granted_micros = p.granted_micros + x.g, closed = p.closed or x.c,
              reloaded_at = coalesce(${TS("x.ra")}, p.reloaded_at), allotted_micros = coalesce(x.al, p.allotted_micros),
              reload_to_micros = case when x.ro then 0 else p.reload_to_micros end, reload_below_micros = case when x.ro then 0 else p.reload_below_micros end
         from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::boolean[], $5::bigint[], $6::text[], $7::bigint[], $8::boolean[]) as x(id, b, g, c, ra, a, al, ro)
        where p.account_id = x.a and p.pool_id = x.id`,
      [
        ids, changes.map((c) => text(c.balance)), changes.map((c) => text(c.granted)), changes.map((c) => c.closed), changes.map((c) => c.reloadedAtMs), changes.map((c) => c.accountId),
        changes.map((c) => (c.allotted === null ? null : text(c.allotted))), changes.map((c) => c.reloadOff),
      ],
    ));
  }
  if (holdChanges.size > 0) {
    const ids = [...holdChanges.keys()];
    const changes = [...holdChanges.values()];
    statements.push(prepared(
      `update ledger.holds h
          set charged_micros = h.charged_micros + x.ch, amount_micros = h.amount_micros + x.am, expires_at = coalesce(${TS("x.ex")}, h.expires_at),
              status = coalesce(x.st, h.status), closed_at = coalesce(${TS("x.cl")}, h.closed_at),
              priced_usage = coalesce(x.pu, h.priced_usage), priced_micros = coalesce(x.pm, h.priced_micros)
         from unnest($1::uuid[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::jsonb[], $8::bigint[], $9::text[]) as x(id, ch, st, cl, am, ex, pu, pm, a)
        where h.account_id = x.a and h.hold_id = x.id`,
      [
        ids, changes.map((c) => text(c.charged)), changes.map((c) => c.status), changes.map((c) => c.closedAtMs), changes.map((c) => text(c.amount)), changes.map((c) => c.expiresAtMs),
        changes.map((c) => (c.priced ? json(c.priced.usage) : null)), changes.map((c) => (c.priced ? text(c.priced.micros) : null)), changes.map((c) => c.accountId),
      ],
    ));
  }
  const balanceKeys = [...new Set([...held.keys(), ...crossed.keys()])];
  if (balanceKeys.length > 0) {
    const parsed = balanceKeys.map((k) => JSON.parse(k) as [string, string]);
    statements.push(prepared(
      `update ledger.balances b
          set held_micros = b.held_micros + x.h, crossed_percents = coalesce(x.cr::integer[], b.crossed_percents)
         from unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) as x(a, u, h, cr)
        where b.account_id = x.a and b.unit = x.u`,
      [
        parsed.map(([a]) => a), parsed.map(([, u]) => u), balanceKeys.map((k) => text(held.get(k) ?? 0n)),
        balanceKeys.map((k) => (crossed.has(k) ? `{${crossed.get(k)!.join(",")}}` : null)),
      ],
    ));
  }
  statements.push(...budgetWriteStatements(writes));
  if (entries.length > 0) {
    statements.push(prepared(
      `insert into ledger.entries (entry_id, account_id, kind, hold_id, unit, bucket, amount_micros, uncollected_micros, attribution, rate_table_version, reason, actor, trace_id, created_at, on_behalf_of, reverses_entry_id, occurred_at)
       select id, a, k, h, u, bk, am, un, at, rv, re, ac, tr, ${TS("t")}, ob, rev, ${TS("oc")}
         from unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::jsonb[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[], $16::bigint[], $17::bigint[])
           as x(id, a, k, h, u, bk, am, un, at, rv, re, ac, tr, t, ob, rev, oc)`,
      [
        entries.map((e) => text(e.entryId)), entries.map((e) => e.accountId), entries.map((e) => e.kind), entries.map((e) => e.holdId), entries.map((e) => e.unit),
        entries.map((e) => e.bucket), entries.map((e) => text(e.amountMicros)), entries.map((e) => text(e.uncollectedMicros)), entries.map((e) => json(e.attribution)),
        entries.map((e) => text(e.rateTableVersion)), entries.map((e) => e.reason), entries.map((e) => e.actor), entries.map((e) => e.traceId), entries.map((e) => e.atMs),
        entries.map((e) => e.onBehalfOf ?? null), entries.map((e) => text(e.reversesEntryId)), entries.map((e) => e.occurredAtMs ?? null),
      ],
    ));
    const lines = entries.flatMap((e) => e.lines.map((l, i) => ({ accountId: e.accountId, entryId: e.entryId, lineNo: i + 1, ...l })));
    if (lines.length > 0) {
      statements.push(prepared(
        `insert into ledger.lines (account_id, entry_id, line_no, ledger_account, pool_id, amount_micros)
         select * from unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::uuid[], $6::bigint[])`,
        [
          lines.map((l) => l.accountId), lines.map((l) => text(l.entryId)), lines.map((l) => l.lineNo), lines.map((l) => l.ledgerAccount), lines.map((l) => l.poolId),
          lines.map((l) => text(l.amountMicros)),
        ],
      ));
    }
  }
  const inserted = insertWorkStatement(newWork);
  if (inserted) statements.push(inserted);
  if (changedWork.size > 0) {
    // The work rows as the batch left them (changes are partial and may follow one another).
    const after: LedgerState = new Map([...read].map(([id, a]) => [id, { ...a, work: new Map(a.work) }]));
    applyWrites(after, writes.filter((w) => w.type === "work" || w.type === "workChange"));
    const updated = updateWorkStatement([...changedWork].map((k) => {
      const [accountId, workId] = JSON.parse(k) as [string, string];
      return after.get(accountId)!.work.get(workId)!;
    }));
    if (updated) statements.push(updated);
  }
  if (events.length > 0) {
    // As earlier releases wrote them: a threshold's cycle as PostgreSQL prints a timestamptz in JSON.
    statements.push(prepared(
      `insert into ledger.outbox (account_id, kind, payload, traceparent, created_at)
       select x.a, x.k,
              case when x.p ? 'cycle' and x.p->>'cycle' <> '' then x.p || jsonb_build_object('cycle', (x.p->>'cycle')::timestamptz) else x.p end,
              x.t, coalesce(${TS("$5::bigint")}, now())
         from unnest($1::text[], $2::text[], $3::jsonb[], $4::text[]) with ordinality as x(a, k, p, t, n)
        order by x.n`,
      // Stamped with the batch's time, as its entries and keys are: a receipt finds the events its charge caused by it.
      [events.map((e) => e.accountId), events.map((e) => e.kind), events.map((e) => json(e.payload)), events.map((e) => e.traceparent), entries[0]?.atMs ?? keys[0]?.record.atMs ?? null],
    ));
  }
  if (keys.length > 0) {
    statements.push(prepared(
      `insert into ledger.idempotency_keys (account_id, idempotency_key, operation, request_hash, response, created_at)
       select a, k, o, h, r, ${TS("t")} from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[]) as x(a, k, o, h, r, t)`,
      [
        keys.map((k) => k.accountId), keys.map((k) => k.record.key), keys.map((k) => k.record.operation), keys.map((k) => k.record.requestHash),
        keys.map((k) => json(encodeAnswer(k.record.response))), keys.map((k) => k.record.atMs),
      ],
    ));
  }
  return statements;
}
