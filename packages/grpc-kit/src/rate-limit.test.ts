import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { errorDetails } from "./errors.js";
import { RateLimiter, rateLimitedError } from "./rate-limit.js";

describe("per-principal rate limits", () => {
  it("lets each caller make its burst, then refuses it with the wait, without touching the others", () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 });
    const now = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take("flood", now).allowed)).toEqual([true, true, true]);
    expect(limiter.take("flood", now)).toEqual({ allowed: false, retryAfterMs: 100 });
    expect(limiter.take("quiet", now).allowed).toBe(true);
    expect(limiter.take("flood", now + 100).allowed).toBe(true);
  });

  it("answers RESOURCE_EXHAUSTED with the delay in a google.rpc.RetryInfo", () => {
    const details = errorDetails(rateLimitedError("flood", 1_250));
    expect(details).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED", metadata: { principal: "flood" }, retryDelayMs: 1_250 });
  });
});
