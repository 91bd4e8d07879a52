import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

export interface LimitOverride {
  unit: string;
  lowCreditLimitMicros: string;
  negativeLimitMicros: string;
  /** Absent: the unit's limits; set: the limits of that kind of work in the unit. */
  workKind?: string;
  draftsAtZero?: boolean;
  stopMessage?: string;
}

export const AccountSchema = defineEntity({
  name: "Account",
  tableName: "accounts",
  properties: {
    accountId: p.string().primary().fieldName("account_id"),
    name: p.string(),
    planId: p.string().fieldName("plan_id"),
    planVersion: p.bigint("string").fieldName("plan_version"),
    seats: p.integer(),
    deploymentMode: p.string().fieldName("deployment_mode"),
    billingMode: p.string().fieldName("billing_mode"),
    cycleAnchor: p.datetime().fieldName("cycle_anchor"),
    status: p.string(),
    adminEmails: p.json<string[]>().fieldName("admin_emails"),
    spendCapMicros: p.bigint("string").fieldName("spend_cap_micros"),
    /** Limits set for this account, by unit (micro-units as strings): they override the plan's. */
    limitOverrides: p.json<LimitOverride[]>().fieldName("limit_overrides"),
    /** Bumped from a sequence on every change; WatchAccounts follows it. */
    revision: p.bigint("string"),
    createdAt: p.datetime().fieldName("created_at"),
    /** Hash of the creating request, so a replayed CreateAccount returns the original. */
    requestHash: p.string().fieldName("request_hash"),
  },
  indexes: [{ name: "accounts_revision_idx", properties: ["revision"] }],
});

export type Account = InferEntity<typeof AccountSchema>;
