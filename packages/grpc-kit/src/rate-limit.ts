import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { googleProtobufAny, googleRpcErrorDetails, googleRpcStatus } from "@tollgate/proto";

export interface RateLimit {
  /** Calls per second each principal may make on average. */
  perSecond: number;
  /** Calls a principal may make at once after being idle (default: one second's worth). */
  burst?: number;
}

const IDLE_LIMIT = 10_000;

/**
 * A token bucket per principal (per peer address when authentication is off):
 * one caller that floods a service is answered RESOURCE_EXHAUSTED with a
 * google.rpc.RetryInfo, and the others keep their share.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(private readonly limit: RateLimit) {
    this.burst = Math.max(1, limit.burst ?? limit.perSecond);
  }

  /** Takes one call from `caller`'s bucket; returns how long to wait when it is empty. */
  take(caller: string, now = Date.now()): { allowed: true } | { allowed: false; retryAfterMs: number } {
    let bucket = this.buckets.get(caller);
    if (!bucket) {
      if (this.buckets.size >= IDLE_LIMIT) this.forgetFull(now);
      this.buckets.set(caller, (bucket = { tokens: this.burst, at: now }));
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / this.limit.perSecond) * 1000) };
  }

  /** How long until `caller` has a call left (0: it has one now), taking none. */
  waitFor(caller: string, now = Date.now()): number {
    const bucket = this.buckets.get(caller);
    if (!bucket) return 0;
    const tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.limit.perSecond) * 1000);
  }

  /** Drops the buckets that have refilled: they are the same as new ones. */
  private forgetFull(now: number): void {
    for (const [caller, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond >= this.burst) this.buckets.delete(caller);
    }
  }
}

/** Thrown by the access check when a caller's bucket is empty. */
export class RateLimitedError extends Error {
  constructor(readonly caller: string, readonly retryAfterMs: number) {
    super(`too many calls from ${caller}`);
  }
}

const any = (typeName: string, value: Uint8Array): googleProtobufAny.Any => ({ typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) });

/** RESOURCE_EXHAUSTED naming the caller, with the delay to retry after. */
export function rateLimitedError(caller: string, retryAfterMs: number): Partial<ServiceError> {
  const message = `too many calls from ${caller}; retry after ${retryAfterMs} ms`;
  const details = [
    any("google.rpc.ErrorInfo", googleRpcErrorDetails.ErrorInfo.encode({ reason: "RATE_LIMITED", domain: "tollgate", metadata: { principal: caller } }).finish()),
    any(
      "google.rpc.RetryInfo",
      googleRpcErrorDetails.RetryInfo.encode({
        retryDelay: { seconds: String(Math.floor(retryAfterMs / 1000)), nanos: (retryAfterMs % 1000) * 1_000_000 },
      }).finish(),
    ),
  ];
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(googleRpcStatus.Status.encode({ code: status.RESOURCE_EXHAUSTED, message, details }).finish()));
  return { code: status.RESOURCE_EXHAUSTED, details: message, metadata };
}
