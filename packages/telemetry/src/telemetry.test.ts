import { afterAll, expect, it } from "vitest";
import { context, metrics, trace } from "@opentelemetry/api";
import { currentTraceId, currentTraceparent, registerTelemetry, shutdownTelemetry, tracer } from "./index.js";

// This file runs in its own process, with no exporter configured and no processors passed.
delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
delete process.env.OTEL_TRACES_EXPORTER;
delete process.env.OTEL_METRICS_EXPORTER;
delete process.env.OTEL_LOGS_EXPORTER;
registerTelemetry({ serviceName: "telemetry-test" });

afterAll(() => shutdownTelemetry());

it("records and exports nothing when nothing collects (no OTLP pushes of metrics or logs to a missing collector)", () => {
  expect(process.env.OTEL_TRACES_EXPORTER).toBe("none");
  expect(process.env.OTEL_METRICS_EXPORTER).toBe("none");
  expect(process.env.OTEL_LOGS_EXPORTER).toBe("none");
  const span = tracer("test").startSpan("unrecorded");
  expect(span.isRecording()).toBe(false);
  span.end();
  // No meter provider was installed, so instruments record into the API's no-op.
  expect((metrics.getMeterProvider() as { constructor: { name: string } }).constructor.name).toBe("NoopMeterProvider");
});

it("names no trace when spans are not recorded: no all-zero id that would tie unrelated calls together", () => {
  const span = tracer("test").startSpan("unrecorded");
  context.with(trace.setSpan(context.active(), span), () => {
    expect(trace.getActiveSpan()?.spanContext().traceId).toBe("0".repeat(32));
    expect(currentTraceId()).toBe("");
    expect(currentTraceparent()).toBe("");
  });
  span.end();
});
