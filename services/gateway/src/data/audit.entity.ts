import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** One support action: who did what, why, and what it changed. Rows are never updated. */
export const AuditEntrySchema = defineEntity({
  name: "AuditEntry",
  tableName: "audit_log",
  properties: {
    auditId: p.bigint("string").primary().autoincrement().fieldName("audit_id"),
    actor: p.string(),
    role: p.string(),
    action: p.string(),
    target: p.string(),
    accountId: p.string().nullable().fieldName("account_id"),
    reason: p.text(),
    before: p.json<unknown>().nullable(),
    after: p.json<unknown>().nullable(),
    traceId: p.string().fieldName("trace_id"),
    /** The caller's Idempotency-Key, when it sent one: a retry finds this row instead of writing another. */
    idempotencyKey: p.string().nullable().fieldName("idempotency_key"),
    createdAt: p.datetime().fieldName("created_at"),
  },
});
export type AuditEntry = InferEntity<typeof AuditEntrySchema>;
