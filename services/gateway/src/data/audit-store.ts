import { UniqueConstraintViolationException } from "@mikro-orm/core";
import { sql, type EntityManager } from "@tollgate/db";
import { AuditEntrySchema, type AuditEntry } from "./audit.entity.js";

export interface NewAuditEntry {
  actor: string;
  role: string;
  action: string;
  target: string;
  accountId: string | null;
  reason: string;
  before: unknown;
  after: unknown;
  traceId: string;
  /** The caller's Idempotency-Key: an action retried with it is recorded once (the first row answers). */
  idempotencyKey?: string | null;
}

/** What an Idempotency-Key was sent to do. */
export interface KeyUse {
  action: string;
  target: string;
}

/** What a page of the console's audit log is narrowed to (all given must match). */
export interface AuditFilter {
  accountId?: string;
  /** The console user who acted. */
  actor?: string;
}

export interface AuditStore {
  record(entry: NewAuditEntry): Promise<AuditEntry>;
  /** The action an actor recorded under an Idempotency-Key, if any. */
  recorded(actor: string, idempotencyKey: string): Promise<AuditEntry | null>;
  /**
   * Claims an Idempotency-Key for an action and target before the action runs, and answers the action and target it was
   * first claimed for: this one's, or another request's (sent earlier, or at the same moment).
   */
  claim(actor: string, idempotencyKey: string, use: KeyUse): Promise<KeyUse>;
  /** Gives a claimed key back (its action was refused for what was sent, so nothing was done under it). */
  release(actor: string, idempotencyKey: string, use: KeyUse): Promise<void>;
  /** Newest first, below `beforeId`: of one account, of one console user (`actor`). */
  list(options: AuditFilter & { beforeId?: bigint; limit: number }): Promise<AuditEntry[]>;
}

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly em: () => EntityManager) {}

  recorded(actor: string, idempotencyKey: string): Promise<AuditEntry | null> {
    return this.em().findOne(AuditEntrySchema, { actor, idempotencyKey });
  }

  async claim(actor: string, idempotencyKey: string, use: KeyUse): Promise<KeyUse> {
    const em = this.em();
    const claimed = await sql<KeyUse>(
      em,
      `insert into gateway.idempotency_claims (actor, idempotency_key, action, target) values (?, ?, ?, ?) on conflict (actor, idempotency_key) do nothing returning action, target`,
      [actor, idempotencyKey, use.action, use.target],
    );
    if (claimed[0]) {
      // Actions are few: each new claim also takes away those past the replay window (a day), whose retries are refused anyway.
      await sql(em, `delete from gateway.idempotency_claims where created_at < now() - interval '1 day'`).catch(() => undefined);
      return claimed[0];
    }
    // Claimed already: read in a statement of its own, whose snapshot holds a claim committed while the insert waited on it.
    const [first] = await sql<KeyUse>(em, `select action, target from gateway.idempotency_claims where actor = ? and idempotency_key = ?`, [actor, idempotencyKey]);
    return first ?? use;
  }

  async release(actor: string, idempotencyKey: string, use: KeyUse): Promise<void> {
    // Only this use's claim, and only while no action is recorded under the key (an earlier request's retry may have done it).
    await sql(
      this.em(),
      `delete from gateway.idempotency_claims c where actor = ? and idempotency_key = ? and action = ? and target = ?
         and not exists (select 1 from gateway.audit_log a where a.actor = c.actor and a.idempotency_key = c.idempotency_key)`,
      [actor, idempotencyKey, use.action, use.target],
    );
  }

  /** A new action's row (the caller answers a known replay with `recorded`); under a key another request is writing at once, that one's row. */
  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const key = entry.idempotencyKey || null;
    try {
      return await this.insert(entry, key);
    } catch (error) {
      if (!(key && error instanceof UniqueConstraintViolationException)) throw error;
      // The same retry, twice at once: the other one recorded it.
      const first = await this.recorded(entry.actor, key);
      if (first && first.action === entry.action && first.target === entry.target) return first;
      // The key sent at once with another action: both ran, so this one is recorded too, without the key.
      return this.insert(entry, null);
    }
  }

  private async insert(entry: NewAuditEntry, idempotencyKey: string | null): Promise<AuditEntry> {
    // A fork of its own: a failed insert leaves nothing behind in the request's EntityManager.
    const em = this.em().fork();
    const row = em.create(AuditEntrySchema, { ...entry, idempotencyKey, before: entry.before ?? null, after: entry.after ?? null, createdAt: new Date() });
    await em.flush();
    return row;
  }

  list(options: AuditFilter & { beforeId?: bigint; limit: number }): Promise<AuditEntry[]> {
    return this.em().find(
      AuditEntrySchema,
      // audit_log_account_idx, audit_log_actor_idx
      { ...(options.accountId ? { accountId: options.accountId } : {}), ...(options.actor ? { actor: options.actor } : {}), ...(options.beforeId ? { auditId: { $lt: options.beforeId.toString() } } : {}) },
      { orderBy: { auditId: "desc" }, limit: options.limit },
    );
  }
}
