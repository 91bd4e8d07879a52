import { describe, expect, it } from "vitest";
import { IdempotencyKeyReusedError } from "@tollgate/errors";
import { MIN_RETENTION_MS, recall, requestHash, retentionMs } from "./idempotency.js";

describe("idempotency of support changes", () => {
  const call = (request: Record<string, unknown>) => ({ accountId: "acme", key: "k1", operation: "resend_notification", requestHash: requestHash("resend_notification", request) });

  it("binds a key to the operation and every field but the key, whatever their order", () => {
    const hash = requestHash("set_preferences", { preferences: { accountId: "acme", emailRecipients: ["a@x.example"] }, idempotencyKey: "k1" });
    expect(requestHash("set_preferences", { idempotencyKey: "k2", preferences: { emailRecipients: ["a@x.example"], accountId: "acme" } })).toBe(hash);
    expect(requestHash("set_preferences", { preferences: { accountId: "acme", emailRecipients: ["b@x.example"] } })).not.toBe(hash);
    expect(requestHash("dismiss_banner", { preferences: { accountId: "acme", emailRecipients: ["a@x.example"] } })).not.toBe(hash);
  });

  it("answers the record for the same request and refuses another as IDEMPOTENCY_KEY_REUSED", () => {
    const record = { requestHash: call({ notificationId: "n1" }).requestHash, response: { notification: { notificationId: "n1" } } };
    expect(recall(record, call({ notificationId: "n1" }))).toEqual({ notification: { notificationId: "n1" } });
    const reused = (() => {
      try {
        return recall(record, call({ notificationId: "n2" }));
      } catch (error) {
        return error;
      }
    })();
    expect(reused).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(reused).toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED", metadata: { idempotency_key: "k1" } });
  });

  it("keeps keys at least a day, seven days unless configured", () => {
    expect(retentionMs(undefined)).toBe(7 * 86_400_000);
    expect(retentionMs(3_600_000)).toBe(MIN_RETENTION_MS);
    expect(retentionMs(30 * 86_400_000)).toBe(30 * 86_400_000);
  });
});
