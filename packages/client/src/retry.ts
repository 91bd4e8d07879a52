import { status } from "@grpc/grpc-js";
import { RpcError } from "./errors.js";

export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  maxAttempts: number;
  /** The first backoff's ceiling; each retry doubles it (full jitter: a random wait from 0 to the ceiling). */
  baseDelayMs: number;
  /** The largest wait between two attempts. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 2_000 };

/**
 * Whether an error is worth another attempt with the same request (and so the
 * same idempotency key):
 * - UNAVAILABLE, ABORTED: the server was not reached, or answered a transient
 *   conflict; a replay of a request it did apply answers what it answered then;
 * - DEADLINE_EXCEEDED: the request may have been applied, so only an
 *   idempotent call (a read, or a write carrying its key) is retried;
 * - RESOURCE_EXHAUSTED: only the rate limiter's (reason RATE_LIMITED or a
 *   retry delay), not a message over the size limit, which would fail again.
 * UNAVAILABLE and ABORTED also need an idempotent call: a request that
 * reached the server before the connection broke may have been applied.
 */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (!(error instanceof RpcError)) return false;
  switch (error.code) {
    case status.RESOURCE_EXHAUSTED:
      return error.reason === "RATE_LIMITED" || error.retryDelayMs !== undefined;
    case status.UNAVAILABLE:
    case status.ABORTED:
    case status.DEADLINE_EXCEEDED:
      return idempotent;
    default:
      return false;
  }
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): full jitter
 * under an exponential ceiling, and never less than the delay the server
 * asked for (RetryInfo), which gets up to one base delay of jitter on top so
 * that callers refused together do not come back together.
 */
export function backoffMs(attempt: number, policy: RetryPolicy, serverDelayMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (serverDelayMs === undefined) return jittered;
  return serverDelayMs + Math.floor(random() * policy.baseDelayMs);
}

export interface RetryingOptions {
  policy: RetryPolicy;
  idempotent: boolean;
  /** Stops retrying (and waiting) when aborted. */
  signal?: AbortSignal | undefined;
  /** No retry starts after this instant (ms since the epoch). */
  giveUpAt?: number | undefined;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (error: RpcError, attempt: number, delayMs: number) => void;
}

const abortableSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * Runs `attempt` until it succeeds, fails with an error not worth retrying,
 * or runs out of attempts or time; the last error is thrown. The caller
 * builds the request once, outside `attempt`, so every attempt sends the same
 * idempotency key.
 */
export async function retrying<T>(attempt: (n: number) => Promise<T>, options: RetryingOptions): Promise<T> {
  const { policy, signal } = options;
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= policy.maxAttempts || signal?.aborted || !isRetryable(error, options.idempotent)) throw error;
      const rpc = error as RpcError;
      const delay = backoffMs(n, policy, rpc.retryDelayMs, options.random);
      if (options.giveUpAt !== undefined && now() + delay >= options.giveUpAt) throw error;
      options.onRetry?.(rpc, n, delay);
      await sleep(delay, signal);
      if (signal?.aborted) throw error;
    }
  }
}
