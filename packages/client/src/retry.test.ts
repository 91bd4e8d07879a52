import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { decodeError, RpcError } from "./errors.js";
import { backoffMs, DEFAULT_RETRY, isRetryable, retrying } from "./retry.js";

const rpc = (code: status, reason = "", retryDelayMs?: number) => new RpcError(code, status[code]!, reason, {}, [], retryDelayMs);
const noSleep = { sleep: async () => undefined };

describe("isRetryable", () => {
  it("retries UNAVAILABLE, ABORTED and DEADLINE_EXCEEDED only for idempotent calls", () => {
    for (const code of [status.UNAVAILABLE, status.ABORTED, status.DEADLINE_EXCEEDED]) {
      expect(isRetryable(rpc(code), true)).toBe(true);
      expect(isRetryable(rpc(code), false)).toBe(false);
    }
  });

  it("retries RESOURCE_EXHAUSTED only from the rate limiter, never answers about the request", () => {
    expect(isRetryable(rpc(status.RESOURCE_EXHAUSTED, "RATE_LIMITED"), true)).toBe(true);
    expect(isRetryable(rpc(status.RESOURCE_EXHAUSTED, "", 500), false)).toBe(true);
    expect(isRetryable(rpc(status.RESOURCE_EXHAUSTED), true)).toBe(false); // e.g. a message over the size limit
    for (const code of [status.INVALID_ARGUMENT, status.NOT_FOUND, status.ALREADY_EXISTS, status.FAILED_PRECONDITION, status.PERMISSION_DENIED, status.UNAUTHENTICATED, status.INTERNAL]) {
      expect(isRetryable(rpc(code), true)).toBe(false);
    }
    expect(isRetryable(new Error("boom"), true)).toBe(false);
  });
});

describe("backoffMs", () => {
  it("is full jitter under a ceiling that doubles up to the maximum", () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, undefined, () => 0.999999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffMs(3, policy, undefined, () => 0)).toBe(0);
  });

  it("waits at least what the server asked for, with up to one base delay of jitter", () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffMs(1, policy, 1_250, () => 0)).toBe(1_250);
    expect(backoffMs(1, policy, 1_250, () => 0.5)).toBe(1_300);
  });
});

describe("retrying", () => {
  it("sends the same request, and so the same idempotency key, on every attempt until one succeeds", async () => {
    const request = { idempotencyKey: "k-1", amount: "5" };
    const sent: unknown[] = [];
    const answer = await retrying(
      async (n) => {
        sent.push(request);
        if (n === 1) throw rpc(status.UNAVAILABLE);
        if (n === 2) throw rpc(status.RESOURCE_EXHAUSTED, "RATE_LIMITED", 10);
        return "ok";
      },
      { policy: DEFAULT_RETRY, idempotent: true, ...noSleep },
    );
    expect(answer).toBe("ok");
    expect(sent).toEqual([request, request, request]);
    expect(new Set(sent.map((r) => (r as typeof request).idempotencyKey))).toEqual(new Set(["k-1"]));
  });

  it("waits the backoff between attempts and reports each retry", async () => {
    const waits: number[] = [];
    const retries: [string, number, number][] = [];
    await retrying(
      async (n) => {
        if (n < 3) throw rpc(status.RESOURCE_EXHAUSTED, "RATE_LIMITED", 200);
        return n;
      },
      {
        policy: { maxAttempts: 5, baseDelayMs: 40, maxDelayMs: 1_000 },
        idempotent: true,
        random: () => 0.5,
        sleep: async (ms) => void waits.push(ms),
        onRetry: (error, attempt, delay) => retries.push([error.codeName, attempt, delay]),
      },
    );
    expect(waits).toEqual([220, 220]);
    expect(retries).toEqual([
      ["RESOURCE_EXHAUSTED", 1, 220],
      ["RESOURCE_EXHAUSTED", 2, 220],
    ]);
  });

  it("gives up after maxAttempts with the last error, at once on an error not worth retrying, and when time is up", async () => {
    let attempts = 0;
    const last = rpc(status.UNAVAILABLE, "LAST");
    await expect(retrying(async () => { attempts++; throw attempts === 3 ? last : rpc(status.UNAVAILABLE); }, { policy: { ...DEFAULT_RETRY, maxAttempts: 3 }, idempotent: true, ...noSleep })).rejects.toBe(last);
    expect(attempts).toBe(3);

    attempts = 0;
    await expect(retrying(async () => { attempts++; throw rpc(status.INVALID_ARGUMENT); }, { policy: DEFAULT_RETRY, idempotent: true, ...noSleep })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(attempts).toBe(1);

    attempts = 0;
    await expect(
      retrying(async () => { attempts++; throw rpc(status.UNAVAILABLE); }, { policy: DEFAULT_RETRY, idempotent: true, giveUpAt: 1_000, now: () => 990, random: () => 0.9, ...noSleep }),
    ).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(attempts).toBe(1);
  });

  it("stops retrying once the caller's signal is aborted", async () => {
    const controller = new AbortController();
    let attempts = 0;
    const failing = retrying(
      async () => {
        attempts++;
        controller.abort();
        throw rpc(status.UNAVAILABLE);
      },
      { policy: DEFAULT_RETRY, idempotent: true, signal: controller.signal, ...noSleep },
    );
    await expect(failing).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(attempts).toBe(1);
  });

  it("decodes the transport's errors before deciding", async () => {
    let attempts = 0;
    const answer = await retrying(
      async () => {
        attempts++;
        if (attempts === 1) throw decodeError(Object.assign(new Error("x"), { code: status.DEADLINE_EXCEEDED, details: "Deadline exceeded", metadata: new Metadata() }));
        return "ok";
      },
      { policy: DEFAULT_RETRY, idempotent: true, ...noSleep },
    );
    expect([answer, attempts]).toEqual(["ok", 2]);
  });
});
