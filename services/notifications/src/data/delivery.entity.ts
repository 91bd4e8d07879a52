import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** One message to one recipient on one channel; its dedup key makes it exactly once per crossing. */
export const DeliverySchema = defineEntity({
  name: "Delivery",
  tableName: "deliveries",
  properties: {
    notificationId: p.uuid().primary().fieldName("notification_id"),
    accountId: p.string().fieldName("account_id"),
    channel: p.string(),
    recipient: p.string(),
    rule: p.string(),
    dedupKey: p.string().unique().fieldName("dedup_key"),
    payload: p.json<Record<string, unknown>>(),
    status: p.string(),
    attempts: p.integer(),
    /** The attempts made before the last resend: its retries count from there. */
    attemptsBeforeResend: p.integer().fieldName("attempts_before_resend"),
    lastError: p.text().fieldName("last_error"),
    nextAttemptAt: p.datetime().fieldName("next_attempt_at"),
    leaseUntil: p.datetime().nullable().fieldName("lease_until"),
    traceId: p.string().fieldName("trace_id"),
    traceparent: p.string(),
    createdAt: p.datetime().fieldName("created_at"),
    deliveredAt: p.datetime().nullable().fieldName("delivered_at"),
  },
});
export type Delivery = InferEntity<typeof DeliverySchema>;

export const PreferencesSchema = defineEntity({
  name: "Preferences",
  tableName: "preferences",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    emailRecipients: p.json<string[]>().fieldName("email_recipients"),
    webhooks: p.json<{ url: string; secret: string }[]>(),
    channelsByRule: p.json<Record<string, string[]>>().fieldName("channels_by_rule"),
    updatedAt: p.datetime().fieldName("updated_at"),
  },
});
export type Preferences = InferEntity<typeof PreferencesSchema>;
