import { context, isSpanContextValid, propagation, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { getNodeAutoInstrumentations } from "./instrumentations.js";
import { setLogService } from "./log.js";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NoopSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace";
import { register as registerEsmHooks } from "import-in-the-middle/register-hooks.mjs";

export interface TelemetryOptions {
  serviceName: string;
  /** Extra span processors (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

let started: NodeSDK | undefined;

/**
 * Starts OpenTelemetry for this process: gRPC, pg and HTTP instrumentation
 * (pg only when spans or the SDK's metrics are recorded), W3C trace
 * context, and OTLP trace export configured by the standard OTEL_*
 * variables (export is off unless OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_TRACES_EXPORTER is set; metrics and logs are not exported unless
 * OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER is set). With no export, spans
 * are not recorded and calls carry no trace id, unless TRACES_RECORDED=true
 * (as `npm start` sets): then they are recorded and dropped, so answers,
 * journal entries and events still carry real trace ids. Call it before importing anything it
 * instruments. Calling it again returns the running SDK.
 */
export function registerTelemetry(options: TelemetryOptions): NodeSDK {
  if (started) return started;
  setLogService(process.env.OTEL_SERVICE_NAME ?? options.serviceName);
  registerEsmHooks({ include: ["@grpc/grpc-js", "pg", "node:http", "http"] });
  const exportConfigured =
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined ||
    (process.env.OTEL_TRACES_EXPORTER !== undefined && process.env.OTEL_TRACES_EXPORTER !== "none");
  // Checked with the rest of the configuration at boot (@tollgate/config's baseShape), which stops a value other than true or false.
  const recorded = process.env.TRACES_RECORDED === "true";
  // Tollgate exports traces. The SDK would also push metrics and logs over OTLP by default; they stay off
  // unless OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER asks for them.
  process.env.OTEL_METRICS_EXPORTER ??= "none";
  process.env.OTEL_LOGS_EXPORTER ??= "none";
  // With no trace export and no processors the SDK installs no tracer provider: nothing is recorded.
  if (!exportConfigured) process.env.OTEL_TRACES_EXPORTER = "none";
  const processors = [...(options.spanProcessors ?? []), ...(!exportConfigured && recorded ? [new NoopSpanProcessor()] : [])];
  const spansRecorded = exportConfigured || processors.length > 0;
  const sdkMetricsExported = process.env.OTEL_METRICS_EXPORTER !== "none";
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME ?? options.serviceName }),
    instrumentations: getNodeAutoInstrumentations({ database: spansRecorded || sdkMetricsExported }),
    ...(processors.length ? { spanProcessors: processors } : {}),
  });
  sdk.start();
  started = sdk;
  return sdk;
}

export async function shutdownTelemetry(): Promise<void> {
  await started?.shutdown();
  started = undefined;
}

export function tracer(name: string): Tracer {
  return trace.getTracer(name);
}

/** The W3C traceparent of the active span, to store beside an outbox row. */
export function currentTraceparent(): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? "";
}

/** The active span's trace id; "" when there is none or it is not recorded (no tracer provider: the all-zero id would tie unrelated calls together). */
export function currentTraceId(): string {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? span.traceId : "";
}

async function runInSpan<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

/** Runs `fn` in a span whose parent is the stored `traceparent` (if any). */
export async function withRemoteParent<T>(
  tracerName: string,
  spanName: string,
  traceparent: string,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
  return tracer(tracerName).startActiveSpan(spanName, {}, parent, (span) => runInSpan(span, fn));
}

/** Runs `fn` in a child span of the active one. */
export async function inSpan<T>(tracerName: string, spanName: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer(tracerName).startActiveSpan(spanName, (span) => runInSpan(span, fn));
}

export { startMetrics, observeConnectionPool, cachedReading, type MetricsOptions, type ServiceMetrics, type ConnectionPoolLike, type Meter, type ObservableResult } from "./metrics.js";
export { createLogger, log, LOG_LEVELS, setLogService, type Logger } from "./log.js";
