import { ServerInterceptingCall, ServerListenerBuilder, status, type Responder, type ServerInterceptor } from "@grpc/grpc-js";
import type { Meter } from "@opentelemetry/api";

/** Millisecond bucket bounds of `rpc.server.duration`: the hot path is a few ms, a slow call seconds. */
const DURATION_BOUNDS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/**
 * One `rpc.server.duration` histogram (milliseconds, OpenTelemetry RPC
 * conventions) recorded for every call the server answers, by `rpc.service`,
 * `rpc.method` and `rpc.grpc.status_code`: its count is the call rate, the
 * non-zero status codes the errors, the buckets the latency.
 */
export function rpcMetricsInterceptor(meter: Meter): ServerInterceptor {
  const duration = meter.createHistogram("rpc.server.duration", {
    description: "Time to answer a gRPC call, by method and status code",
    unit: "ms",
    advice: { explicitBucketBoundaries: DURATION_BOUNDS_MS },
  });
  return (method, call) => {
    const startedAt = performance.now();
    const slash = method.path.lastIndexOf("/");
    const attributes = { "rpc.system": "grpc", "rpc.service": method.path.slice(1, slash), "rpc.method": method.path.slice(slash + 1) };
    let recorded = false;
    const record = (code: number) => {
      if (recorded) return;
      recorded = true;
      duration.record(performance.now() - startedAt, { ...attributes, "rpc.grpc.status_code": code });
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next(new ServerListenerBuilder().withOnCancel(() => record(status.CANCELLED)).build()),
      sendStatus: (sent, next) => {
        record(sent.code ?? status.OK);
        next(sent);
      },
    } satisfies Responder);
  };
}
