import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** One published version of a rate table. Rows are never updated. */
export const RateTableVersionSchema = defineEntity({
  name: "RateTableVersion",
  tableName: "rate_table_versions",
  properties: {
    /** Publication order across every table; the ledger records it on holds and entries. */
    sequence: p.bigint("string").primary().autoincrement(),
    tableId: p.string().fieldName("table_id"),
    /** Numbered per table, from 1. */
    version: p.integer(),
    effectiveFrom: p.datetime().fieldName("effective_from"),
    publishedAt: p.datetime().fieldName("published_at"),
    publishedBy: p.string().fieldName("published_by"),
    /** The person the publisher acted for (the console's admin); null when it acted for itself, and for versions from before this was kept. */
    publishedOnBehalfOf: p.string().fieldName("published_on_behalf_of").nullable(),
    reason: p.text(),
    /** The rates in their protobuf JSON form. */
    rates: p.json<unknown[]>(),
  },
  indexes: [{ name: "rate_table_versions_table_effective_idx", properties: ["tableId", "effectiveFrom"] }],
  uniques: [{ name: "rate_table_versions_table_version_idx", properties: ["tableId", "version"] }],
});

export type RateTableVersion = InferEntity<typeof RateTableVersionSchema>;
