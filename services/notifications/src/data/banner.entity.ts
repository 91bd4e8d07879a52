import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

export const BannerSchema = defineEntity({
  name: "Banner",
  tableName: "banners",
  properties: {
    bannerId: p.uuid().primary().fieldName("banner_id"),
    accountId: p.string().fieldName("account_id"),
    rule: p.string(),
    kind: p.string(),
    message: p.text(),
    unit: p.string(),
    thresholdPercent: p.integer().fieldName("threshold_percent"),
    dedupKey: p.string().unique().fieldName("dedup_key"),
    traceId: p.string().fieldName("trace_id"),
    createdAt: p.datetime().fieldName("created_at"),
    dismissedAt: p.datetime().nullable().fieldName("dismissed_at"),
    dismissedBy: p.string().nullable().fieldName("dismissed_by"),
  },
});
export type Banner = InferEntity<typeof BannerSchema>;

export const ConsumerOffsetSchema = defineEntity({
  name: "ConsumerOffset",
  tableName: "consumer_offsets",
  properties: {
    consumer: p.string().primary(),
    sequence: p.bigint("string"),
  },
});
