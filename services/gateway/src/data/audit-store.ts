import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@tollgate/db";
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

export interface AuditStore {
  record(entry: NewAuditEntry): Promise<AuditEntry>;
  list(options: { accountId?: string; beforeId?: bigint; limit: number }): Promise<AuditEntry[]>;
}

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly em: () => EntityManager) {}

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const em = this.em();
    const key = entry.idempotencyKey ?? null;
    const recorded = () => em.findOne(AuditEntrySchema, { actor: entry.actor, idempotencyKey: key });
    if (key) {
      const first = await recorded();
      if (first) return first;
    }
    const row = em.create(AuditEntrySchema, { ...entry, idempotencyKey: key, before: entry.before ?? null, after: entry.after ?? null, createdAt: new Date() });
    try {
      await em.flush();
    } catch (error) {
      // The same retry, twice at once: the other one recorded it.
      if (!(key && error instanceof UniqueConstraintViolationException)) throw error;
      em.clear();
      const first = await recorded();
      if (!first) throw error;
      return first;
    }
    return row;
  }

  list(options: { accountId?: string; beforeId?: bigint; limit: number }): Promise<AuditEntry[]> {
    return this.em().find(
      AuditEntrySchema,
      { ...(options.accountId ? { accountId: options.accountId } : {}), ...(options.beforeId ? { auditId: { $lt: options.beforeId.toString() } } : {}) },
      { orderBy: { auditId: "desc" }, limit: options.limit },
    );
  }
}
