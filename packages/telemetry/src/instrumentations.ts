import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";

/**
 * gRPC and HTTP always: they carry trace context from a caller to the calls
 * this process makes (and into the outbox), recorded here or not. `pg` only
 * when something records its spans or metrics: its spans are leaves that
 * propagate nothing, and unrecorded they still cost CPU on every query
 * (bench/README.md).
 */
export function getNodeAutoInstrumentations(options: { database: boolean }) {
  return [
    new GrpcInstrumentation(),
    // Prometheus scrapes of /metrics are not traced.
    new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => request.url?.split("?")[0] === "/metrics" }),
    ...(options.database ? [new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false })] : []),
  ];
}
