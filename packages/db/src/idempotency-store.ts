import type { EntityManager } from "@mikro-orm/postgresql";
import { recall, type KeyedCall } from "./idempotency.js";
import { sql } from "./index.js";
import { every, type PeriodicJob } from "./periodic.js";

/** A service's table of keyed answers (its `idempotency_keys` migration) and how its records were written. */
export interface IdempotencyTable {
  /** Schema-qualified, e.g. `pricing.idempotency_keys`. */
  table: string;
  /** The column of KeyedCall's scope, first in the primary key: `scope`, or notifications' `account_id`. */
  scopeColumn: string;
  /** The table's request hashes bind the operation too (requestHash's `operation`): notifications' do. */
  hashOperation?: boolean;
}

/** The answers of keyed calls, kept for the retention and then pruned. */
export interface IdempotencyStore {
  /** Whether answerOnce hashes the operation with the request, as this table's records were hashed. */
  readonly hashOperation: boolean;
  /**
   * Makes `change` at most once per (scope, key): in one transaction, the
   * record is read, and when there is none the change is made (its store
   * calls join the transaction) and its answer (JSON) recorded; a repeat
   * answers the record (`replayed`) without running `change`, or throws
   * IDEMPOTENCY_KEY_REUSED when it was recorded for another request. Calls
   * under one key take turns, so repeats sent at once make one change. When
   * `change` throws, nothing is recorded and the key stays free.
   */
  once(call: KeyedCall, change: () => Promise<unknown>): Promise<{ answer: unknown; replayed: boolean }>;
  /** Deletes up to `limit` records older than `retentionMs`; answers how many. */
  prune(retentionMs: number, limit: number): Promise<number>;
}

/** A lower-case SQL name, so the table and column can be written into statements. */
const NAME = /^[a-z_][a-z0-9_]*$/;

export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly hashOperation: boolean;
  private readonly table: string;
  private readonly scopeColumn: string;
  /** The advisory lock's namespace: `<schema>.idempotency`, the name the services locked keys under before this store was shared. */
  private readonly lockName: string;

  constructor(
    private readonly em: () => EntityManager,
    records: IdempotencyTable,
  ) {
    const [schema, name, ...rest] = records.table.split(".");
    // Both are written into SQL: only plain names, and the schema always said (each service has its own).
    if (!schema || !name || rest.length > 0 || !NAME.test(schema) || !NAME.test(name)) throw new Error(`idempotency table must be <schema>.<table>: ${records.table}`);
    if (!NAME.test(records.scopeColumn)) throw new Error(`idempotency scope column must be a plain name: ${records.scopeColumn}`);
    this.table = records.table;
    this.scopeColumn = records.scopeColumn;
    this.hashOperation = records.hashOperation ?? false;
    this.lockName = `${schema}.idempotency`;
  }

  once(call: KeyedCall, change: () => Promise<unknown>): Promise<{ answer: unknown; replayed: boolean }> {
    // The change runs in this transaction: the stores reach it through the context's entity manager.
    return this.em().transactional(async (tx) => {
      // Calls under one key take turns here; the second reads what the first recorded.
      await sql(tx, `select pg_advisory_xact_lock(hashtext(? || ':' || ? || ':' || ?))`, [this.lockName, call.scope, call.key]);
      const [row] = await sql<{ operation: string; request_hash: string; response: unknown }>(
        tx,
        `select operation, request_hash, response from ${this.table} where ${this.scopeColumn} = ? and idempotency_key = ?`, // idempotency_keys_pkey
        [call.scope, call.key],
      );
      const recalled = recall(call, row && { operation: row.operation, requestHash: row.request_hash, answer: row.response });
      if (recalled) return { answer: recalled.answer, replayed: true };
      const answer = await change();
      // Recorded after the change, with its answer, for every table alike (notifications' `response` may be null; it is never left so).
      await sql(
        tx,
        `insert into ${this.table} (${this.scopeColumn}, idempotency_key, operation, request_hash, response) values (?, ?, ?, ?, ?::jsonb)`,
        [call.scope, call.key, call.operation, call.requestHash, JSON.stringify(answer)],
      );
      return { answer, replayed: false };
    });
  }

  async prune(retentionMs: number, limit: number): Promise<number> {
    const expired = `select ctid from ${this.table} where created_at < now() - make_interval(secs => ? / 1000.0) limit ?`; // idempotency_keys_created_idx
    const deleted = await sql<{ idempotency_key: string }>(this.em(), `delete from ${this.table} where ctid in (${expired}) returning idempotency_key`, [retentionMs, limit]);
    return deleted.length;
  }
}

/**
 * Prunes a store's records older than `retentionMs`, 1,000 a statement, every
 * `intervalMs` (0: never; one round at a time, see `every`), each round
 * through `run` (the service's request scope); a failed round goes to
 * `onError` and the next one tries again.
 */
export function schedulePruning(
  store: IdempotencyStore,
  options: { retentionMs: number; intervalMs: number; run: <T>(work: () => Promise<T>) => Promise<T>; onError: (error: unknown) => void },
): PeriodicJob {
  return every(options.intervalMs, () => options.run(() => store.prune(options.retentionMs, 1_000)), options.onError);
}
