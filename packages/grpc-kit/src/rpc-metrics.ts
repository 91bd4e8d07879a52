import { ServerInterceptingCall, ServerListenerBuilder, status, type Responder, type ServerInterceptor } from "@grpc/grpc-js";
import type { Attributes, Meter } from "@opentelemetry/api";

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
  // One attribute set per method and status code, made at its first use (not two string slices and a copy per call);
  // grpc-js runs interceptors only for the methods the server registered, so the map stays as small as the contract.
  const attributeSets = new Map<string, Attributes[]>();
  const attributesOf = (path: string, code: number): Attributes => {
    let byCode = attributeSets.get(path);
    if (!byCode) attributeSets.set(path, (byCode = []));
    let attributes = byCode[code];
    if (!attributes) {
      const slash = path.lastIndexOf("/");
      byCode[code] = attributes = { "rpc.system": "grpc", "rpc.service": path.slice(1, slash), "rpc.method": path.slice(slash + 1), "rpc.grpc.status_code": code };
    }
    return attributes;
  };
  return (method, call) => {
    const startedAt = performance.now();
    let recorded = false;
    const record = (code: number) => {
      if (recorded) return;
      recorded = true;
      duration.record(performance.now() - startedAt, attributesOf(method.path, code));
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
