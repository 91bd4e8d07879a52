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
}

export interface AuditStore {
  record(entry: NewAuditEntry): Promise<AuditEntry>;
  list(options: { accountId?: string; beforeId?: bigint; limit: number }): Promise<AuditEntry[]>;
}

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly em: () => EntityManager) {}

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const em = this.em();
    const row = em.create(AuditEntrySchema, { ...entry, before: entry.before ?? null, after: entry.after ?? null, createdAt: new Date() });
    await em.flush();
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
