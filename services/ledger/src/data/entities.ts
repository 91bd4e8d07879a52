import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** Read models of the ledger's tables. Writes go through the SQL functions in migrations. */
export const PoolSchema = defineEntity({
  name: "Pool",
  tableName: "pools",
  properties: {
    poolId: p.uuid().primary().fieldName("pool_id"),
    accountId: p.string().fieldName("account_id"),
    unit: p.string(),
    kind: p.string(),
    priority: p.integer(),
    expiresAt: p.datetime().nullable().fieldName("expires_at"),
    balanceMicros: p.bigint("string").fieldName("balance_micros"),
    grantedMicros: p.bigint("string").fieldName("granted_micros"),
    closed: p.boolean(),
    grantKey: p.string().nullable().fieldName("grant_key"),
    reloadBelowMicros: p.bigint("string").fieldName("reload_below_micros"),
    reloadToMicros: p.bigint("string").fieldName("reload_to_micros"),
    createdAt: p.datetime().fieldName("created_at"),
  },
});
export type Pool = InferEntity<typeof PoolSchema>;

export const HoldSchema = defineEntity({
  name: "Hold",
  tableName: "holds",
  properties: {
    holdId: p.uuid().primary().fieldName("hold_id"),
    accountId: p.string().fieldName("account_id"),
    unit: p.string(),
    bucket: p.string(),
    amountMicros: p.bigint("string").fieldName("amount_micros"),
    chargedMicros: p.bigint("string").fieldName("charged_micros"),
    status: p.string(),
    expiresAt: p.datetime().fieldName("expires_at"),
    createdAt: p.datetime().fieldName("created_at"),
    closedAt: p.datetime().nullable().fieldName("closed_at"),
    attribution: p.json<Record<string, string>>(),
    /** The pricing sequence of the rate table version that priced it (0: none); the API shows that table's id and version. */
    rateTableSequence: p.bigint("string").fieldName("rate_table_version"),
  },
});
export type Hold = InferEntity<typeof HoldSchema>;

export const EntrySchema = defineEntity({
  name: "Entry",
  tableName: "entries",
  properties: {
    entryId: p.bigint("string").primary().fieldName("entry_id"),
    accountId: p.string().fieldName("account_id"),
    kind: p.string(),
    holdId: p.uuid().nullable().fieldName("hold_id"),
    unit: p.string(),
    bucket: p.string(),
    amountMicros: p.bigint("string").fieldName("amount_micros"),
    uncollectedMicros: p.bigint("string").fieldName("uncollected_micros"),
    attribution: p.json<Record<string, string>>(),
    /** The pricing sequence of the rate table version that priced it (0: none); the API shows that table's id and version. */
    rateTableSequence: p.bigint("string").fieldName("rate_table_version"),
    reason: p.text(),
    actor: p.string(),
    onBehalfOf: p.string().nullable().fieldName("on_behalf_of"),
    traceId: p.string().fieldName("trace_id"),
    createdAt: p.datetime().fieldName("created_at"),
    /** When a charge's usage happened, for usage reported late (null: at created_at). */
    occurredAt: p.datetime().nullable().fieldName("occurred_at"),
    /** A `reverse` entry: the charge it returned. */
    reversesEntryId: p.bigint("string").nullable().fieldName("reverses_entry_id"),
  },
});
export type Entry = InferEntity<typeof EntrySchema>;

export const LineSchema = defineEntity({
  name: "Line",
  tableName: "lines",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    entryId: p.bigint("string").primary().fieldName("entry_id"),
    lineNo: p.integer().primary().fieldName("line_no"),
    ledgerAccount: p.string().fieldName("ledger_account"),
    poolId: p.uuid().nullable().fieldName("pool_id"),
    amountMicros: p.bigint("string").fieldName("amount_micros"),
  },
});
export type Line = InferEntity<typeof LineSchema>;

export const BalanceSchema = defineEntity({
  name: "Balance",
  tableName: "balances",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    unit: p.string().primary(),
    heldMicros: p.bigint("string").fieldName("held_micros"),
    negativeLimitMicros: p.bigint("string").fieldName("negative_limit_micros"),
    lowCreditLimitMicros: p.bigint("string").fieldName("low_credit_limit_micros"),
  },
});
export type Balance = InferEntity<typeof BalanceSchema>;

export const LedgerAccountSchema = defineEntity({
  name: "LedgerAccount",
  tableName: "accounts",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    planId: p.string().fieldName("plan_id"),
    planVersion: p.bigint("string").fieldName("plan_version"),
    cycleStart: p.datetime().fieldName("cycle_start"),
    cycleEnd: p.datetime().fieldName("cycle_end"),
    createdAt: p.datetime().fieldName("created_at"),
  },
});
export type LedgerAccount = InferEntity<typeof LedgerAccountSchema>;

export const ledgerEntities = [PoolSchema, HoldSchema, EntrySchema, LineSchema, BalanceSchema, LedgerAccountSchema];
