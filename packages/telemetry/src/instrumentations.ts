import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";

export function getNodeAutoInstrumentations() {
  return [
    new GrpcInstrumentation(),
    // Prometheus scrapes of /metrics are not traced.
    new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => request.url?.split("?")[0] === "/metrics" }),
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
  ];
}
