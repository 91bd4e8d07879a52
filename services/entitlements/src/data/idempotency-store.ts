import { sql, type EntityManager } from "@tollgate/db";
import { recall, type KeyedCall } from "../domain/idempotency.js";

/** The answers of keyed calls (`entitlements.idempotency_keys`), kept for the retention and then pruned. */
export interface IdempotencyStore {
  /**
   * Makes `change` at most once per (scope, key): in one transaction, the
   * record is read, and when there is none the change is made and its
   * answer recorded; a repeat answers the record (`replayed`). Calls under
   * one key take turns, so repeats sent at once make one change.
   */
  once(call: KeyedCall, change: () => Promise<unknown>): Promise<{ answer: unknown; replayed: boolean }>;
  /** Deletes up to `limit` records older than `retentionMs`; answers how many. */
  prune(retentionMs: number, limit: number): Promise<number>;
}

export class PostgresIdempotencyStore implements IdempotencyStore {
  constructor(private readonly em: () => EntityManager) {}

  once(call: KeyedCall, change: () => Promise<unknown>): Promise<{ answer: unknown; replayed: boolean }> {
    // The change runs in this transaction: the stores reach it through the context's entity manager.
    return this.em().transactional(async (tx) => {
      await sql(tx, `select pg_advisory_xact_lock(hashtext('entitlements.idempotency:' || ? || ':' || ?))`, [call.scope, call.key]);
      const [row] = await sql<{ operation: string; request_hash: string; response: unknown }>(
        tx,
        `select operation, request_hash, response from entitlements.idempotency_keys where scope = ? and idempotency_key = ?`, // idempotency_keys_pkey
        [call.scope, call.key],
      );
      const recalled = recall(call, row && { operation: row.operation, requestHash: row.request_hash, answer: row.response });
      if (recalled) return { answer: recalled.answer, replayed: true };
      const answer = await change();
      await sql(
        tx,
        `insert into entitlements.idempotency_keys (scope, idempotency_key, operation, request_hash, response) values (?, ?, ?, ?, ?::jsonb)`,
        [call.scope, call.key, call.operation, call.requestHash, JSON.stringify(answer)],
      );
      return { answer, replayed: false };
    });
  }

  async prune(retentionMs: number, limit: number): Promise<number> {
    const rows = await sql<{ idempotency_key: string }>(
      this.em(),
      `delete from entitlements.idempotency_keys where ctid in (
         select ctid from entitlements.idempotency_keys where created_at < now() - make_interval(secs => ? / 1000.0) limit ?)
       returning idempotency_key`,
      [retentionMs, limit],
    );
    return rows.length;
  }
}
