import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, pricingV1, type ledgerV1 } from "@tollgate/proto";
import type { Platform } from "./platform.js";

export const CREDIT = 1_000_000;

export function replies(model: string, count: number): pricingV1.Usage {
  return { kind: { $case: "modelReply", modelReply: { model, replies: String(count) } } };
}

/** A per-reply rate table, a 100-credit monthly plan and an account on it. */
/** The starter plan and rate table, and an account on it (`account`: its other fields, e.g. a cycle anchor). */
export async function seedStarter(platform: Platform, accountId: string, account: Partial<entitlementsV1.CreateAccountRequest> = {}): Promise<void> {
  const { pricing, entitlements } = platform.clients;
  await call(pricing, pricing.publishRateTable, {
    tableId: "default",
    effectiveFrom: new Date(Date.now() - 60_000),
    rates: [
      {
        bucket: commonV1.Bucket.BUCKET_AI,
        unit: commonV1.Unit.UNIT_CREDITS,
        kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } },
      },
    ],
    actor: "test",
    reason: "seed",
    idempotencyKey: "",
  });
  await call(entitlements, entitlements.publishPlan, {
    plan: entitlementsV1.Plan.fromPartial({
      planId: "starter",
      name: "Starter",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [commonV1.Bucket.BUCKET_AI] }],
      thresholds: { bannerPercents: [20, 50, 70, 80, 90, 100], emailPercents: [50, 70, 80, 90] },
      rateTableId: "default",
    }),
    actor: "test",
    reason: "seed",
  });
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId,
    name: `Account ${accountId}`,
    planId: "starter",
    seats: 5,
    adminEmails: ["admin@example.com"],
    ...account,
  }));
}

export function authorizeRequest(accountId: string, key: string, count: number): ledgerV1.AuthorizeRequest {
  return {
    accountId,
    estimate: replies("gpt-4o", count),
    attribution: commonV1.Attribution.fromPartial({ agentId: "agent-1", conversationId: "conv-1", model: "gpt-4o" }),
    idempotencyKey: key,
    ttlMs: "60000",
    context: undefined,
    workKind: commonV1.WorkKind.WORK_KIND_UNSPECIFIED,
  };
}

/** The events after `after`, read through the real StreamEvents RPC until `count` arrived or the last one (`after + count`) did. */
export function readEvents(platform: Platform, after: number, count: number): Promise<ledgerV1.LedgerEvent[]> {
  const { ledger } = platform.clients;
  return new Promise((resolve, reject) => {
    const events: ledgerV1.LedgerEvent[] = [];
    const stream = ledger.streamEvents({ afterSequence: String(after) });
    stream.on("data", (message: ledgerV1.StreamEventsResponse) => {
      if (!message.event) return; // a heartbeat
      events.push(message.event);
      if (events.length === count || Number(message.event.sequence) === after + count) {
        stream.cancel();
        resolve(events);
      }
    });
    stream.on("error", (error: Error & { code?: number }) => {
      if (error.code !== 1) reject(error); // 1: the cancel above
    });
  });
}
