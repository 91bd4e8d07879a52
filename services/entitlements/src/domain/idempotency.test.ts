import { IdempotencyKeyReusedError, InvalidArgumentError } from "@tollgate/errors";
import { describe, expect, it } from "vitest";
import { checkKey, recall, requestHash } from "./idempotency.js";

describe("idempotency rules", () => {
  it("fingerprints a request without its key, whatever the order of a map's entries", () => {
    const request = { accountId: "t", rates: [{ byValue: { a: "1", b: "2" } }] };
    expect(requestHash({ ...request, idempotencyKey: "k1" })).toBe(requestHash({ ...request, idempotencyKey: "k2" }));
    expect(requestHash({ accountId: "t", rates: [{ byValue: { b: "2", a: "1" } }] })).toBe(requestHash(request));
    expect(requestHash({ ...request, accountId: "u" })).not.toBe(requestHash(request));
    // A list's order is the request's: another order is another request.
    expect(requestHash({ rates: [1, 2] })).not.toBe(requestHash({ rates: [2, 1] }));
  });

  it("answers a free key with null, the same request with the record, and another request or operation as a reused key", () => {
    const call = { scope: "account:a", key: "k", operation: "UpdateAccount", requestHash: "h" };
    expect(recall(call, undefined)).toBeNull();
    expect(recall(call, { operation: "UpdateAccount", requestHash: "h", answer: { table: 1 } })).toEqual({ answer: { table: 1 } });
    expect(() => recall(call, { operation: "UpdateAccount", requestHash: "other", answer: {} })).toThrow(IdempotencyKeyReusedError);
    expect(() => recall(call, { operation: "Other", requestHash: "h", answer: {} })).toThrow(IdempotencyKeyReusedError);
  });

  it("allows an empty key (not idempotent) and keys up to 128 characters", () => {
    expect(() => checkKey("")).not.toThrow();
    expect(() => checkKey("k".repeat(128))).not.toThrow();
    expect(() => checkKey("k".repeat(129))).toThrow(InvalidArgumentError);
  });
});
