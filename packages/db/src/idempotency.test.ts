import { IdempotencyKeyReusedError, InvalidArgumentError } from "@tollgate/errors";
import { describe, expect, it } from "vitest";
import { checkKey, MIN_RETENTION_MS, recall, requestHash, retentionMs } from "./idempotency.js";

describe("idempotency rules", () => {
  it("fingerprints a request without its key, whatever the order of a map's entries", () => {
    const request = { tableId: "t", rates: [{ byValue: { a: "1", b: "2" } }] };
    expect(requestHash({ ...request, idempotencyKey: "k1" })).toBe(requestHash({ ...request, idempotencyKey: "k2" }));
    expect(requestHash({ tableId: "t", rates: [{ byValue: { b: "2", a: "1" } }] })).toBe(requestHash(request));
    expect(requestHash({ ...request, tableId: "u" })).not.toBe(requestHash(request));
    // A list's order is the request's: another order is another request.
    expect(requestHash({ rates: [1, 2] })).not.toBe(requestHash({ rates: [2, 1] }));
  });

  it("binds the operation too when asked, and every field but the key, whatever their order", () => {
    const hash = requestHash({ preferences: { accountId: "acme", emailRecipients: ["a@x.example"] }, idempotencyKey: "k1" }, "set_preferences");
    expect(requestHash({ idempotencyKey: "k2", preferences: { emailRecipients: ["a@x.example"], accountId: "acme" } }, "set_preferences")).toBe(hash);
    expect(requestHash({ preferences: { accountId: "acme", emailRecipients: ["b@x.example"] } }, "set_preferences")).not.toBe(hash);
    expect(requestHash({ preferences: { accountId: "acme", emailRecipients: ["a@x.example"] } }, "dismiss_banner")).not.toBe(hash);
    expect(requestHash({ preferences: { accountId: "acme", emailRecipients: ["a@x.example"] } })).not.toBe(hash);
  });

  it("hashes as the records already kept were hashed, so a repeat of a call made before still matches", () => {
    // Entitlements' and pricing's records (request only) and notifications' (`{ op, request }`), as first written.
    expect(requestHash({ tableId: "t", rates: [{ byValue: { b: "2", a: "1" } }], idempotencyKey: "k" })).toBe("810a232dd560e19075f082cdfec73b9aade8441382283b811ee38e52903751bd");
    expect(requestHash({ notificationId: "n1", actor: "support", reason: "lost" }, "resend_notification")).toBe("6af5e705a0c8e1947277cdc5a5ca3e4db825adde4b7824ad2995d0fa0cf8e5b8");
  });

  it("answers a free key with null, the same request with the record, and another request or operation as a reused key, naming it", () => {
    const call = { scope: "table:t", key: "k", operation: "PublishRateTable", requestHash: "h" };
    expect(recall(call, undefined)).toBeNull();
    expect(recall(call, { operation: "PublishRateTable", requestHash: "h", answer: { table: 1 } })).toEqual({ answer: { table: 1 } });
    expect(() => recall(call, { operation: "PublishRateTable", requestHash: "other", answer: {} })).toThrow(IdempotencyKeyReusedError);
    expect(() => recall(call, { operation: "Other", requestHash: "h", answer: {} })).toThrow(IdempotencyKeyReusedError);
    let reused: unknown;
    try {
      recall(call, { operation: "PublishRateTable", requestHash: "other", answer: {} });
    } catch (error) {
      reused = error;
    }
    expect(reused).toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED", metadata: { idempotency_key: "k" } });
  });

  it("replays a record an earlier release made of the same request under its fingerprint then (earlierHashes), and no other", () => {
    const call = { scope: "acme", key: "k", operation: "set_preferences", requestHash: "fields", earlierHashes: ["whole"] };
    expect(recall(call, { operation: "set_preferences", requestHash: "whole", answer: { saved: 1 } })).toEqual({ answer: { saved: 1 } });
    expect(recall(call, { operation: "set_preferences", requestHash: "fields", answer: { saved: 2 } })).toEqual({ answer: { saved: 2 } });
    expect(() => recall(call, { operation: "set_preferences", requestHash: "another", answer: {} })).toThrow(IdempotencyKeyReusedError);
  });

  it("allows an empty key (not idempotent) and keys up to 128 characters", () => {
    expect(() => checkKey("")).not.toThrow();
    expect(() => checkKey("k".repeat(128))).not.toThrow();
    expect(() => checkKey("k".repeat(129))).toThrow(InvalidArgumentError);
    expect(() => checkKey("😀".repeat(128))).not.toThrow(); // 128 characters, 256 UTF-16 units
    expect(() => checkKey("😀".repeat(129))).toThrow(InvalidArgumentError);
  });

  it("keeps keys at least a day, seven days unless configured", () => {
    expect(retentionMs(undefined)).toBe(7 * 86_400_000);
    expect(retentionMs(3_600_000)).toBe(MIN_RETENTION_MS);
    expect(retentionMs(30 * 86_400_000)).toBe(30 * 86_400_000);
  });
});
