import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** One published version of a plan. Versions are numbered from one global sequence and never updated. */
export const PlanVersionSchema = defineEntity({
  name: "PlanVersion",
  tableName: "plan_versions",
  properties: {
    version: p.bigint("string").primary().autoincrement(),
    planId: p.string().fieldName("plan_id"),
    publishedAt: p.datetime().fieldName("published_at"),
    publishedBy: p.string().fieldName("published_by"),
    /** The person `publishedBy` acted for; null when it acted for itself, and for versions published before this was kept. */
    publishedOnBehalfOf: p.string().fieldName("published_on_behalf_of").nullable(),
    reason: p.text(),
    /** The plan as protobuf JSON. */
    document: p.json<Record<string, unknown>>(),
  },
  indexes: [{ name: "plan_versions_plan_idx", properties: ["planId", "version"] }],
});

export type PlanVersion = InferEntity<typeof PlanVersionSchema>;
