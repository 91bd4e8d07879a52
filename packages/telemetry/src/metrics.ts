import { createServer, type Server } from "node:http";
import type { Attributes, Meter, ObservableResult } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { RuntimeNodeInstrumentation } from "@opentelemetry/instrumentation-runtime-node";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from "@opentelemetry/sdk-metrics";

export interface MetricsOptions {
  serviceName: string;
  /** Port of the Prometheus endpoint (`/metrics`); 0 picks a free one. */
  port: number;
  host?: string;
  /** The service's database pool, observed as `db.client.connection.*`. */
  connectionPool?: { name: string; pool: ConnectionPoolLike };
}

export interface ServiceMetrics {
  /** The service's meter: every instrument of the service is made from it. */
  meter: Meter;
  /** The port `/metrics` listens on (the real one when 0 was asked for). */
  port: number;
  /** e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;
  /**
   * What `/readyz` answers: 200 while `ready()` is true, else 503 (and 503
   * until this is called). `/healthz` answers 200 while the process serves
   * HTTP at all. Plain HTTP on the metrics port, so orchestrators' probes
   * work whether or not gRPC is served over TLS.
   */
  setReadiness(ready: () => boolean): void;
  /** Stops the endpoint and the OTLP push (one last export first). */
  shutdown(): Promise<void>;
}

/**
 * A service's metrics: its own meter provider (so several services in one
 * process keep separate registries), read by a Prometheus endpoint at
 * `/metrics` (beside it, the probes `/healthz` and `/readyz`) and, when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) is set, pushed over OTLP every
 * OTEL_METRIC_EXPORT_INTERVAL ms (60 s by default). It includes the
 * runtime's own: garbage collection by kind (`v8js.gc.duration`, major and
 * minor), event-loop delay and utilisation (`nodejs.eventloop.*`) and heap
 * use by space (`v8js.memory.heap.*`).
 */
export async function startMetrics(options: MetricsOptions): Promise<ServiceMetrics> {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) {
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() }));
  }
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME ?? options.serviceName }),
    readers,
  });
  let ready = () => false;
  const server: Server = createServer((request, response) => {
    // HEAD as GET (Node sends no body for it): some load balancers probe with HEAD.
    const path = request.method === "GET" || request.method === "HEAD" ? request.url?.split("?")[0] : undefined;
    if (path === "/metrics") prometheus.getMetricsRequestHandler(request, response);
    else if (path === "/healthz") response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    else if (path === "/readyz") {
      const serving = ready();
      response.writeHead(serving ? 200 : 503, { "content-type": "text/plain" }).end(serving ? "ready\n" : "not ready\n");
    } else response.writeHead(404).end();
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => resolve());
  });
  server.unref();
  const runtime = new RuntimeNodeInstrumentation();
  runtime.setMeterProvider(provider);
  runtime.enable();
  const meter = provider.getMeter(options.serviceName);
  if (options.connectionPool) observeConnectionPool(meter, options.connectionPool.name, options.connectionPool.pool);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    meter,
    port,
    url: `http://${host}:${port}/metrics`,
    setReadiness(check) {
      ready = check;
    },
    async shutdown() {
      runtime.disable();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.shutdown();
    },
  };
}

/** What `observeConnectionPool` reads: a `pg` Pool has these. */
export interface ConnectionPoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

/**
 * Database pool use under the OpenTelemetry database-client conventions:
 * `db.client.connection.count` (by `db.client.connection.state`, idle or
 * used), `db.client.connection.max` and `db.client.connection.pending_requests`,
 * each with `db.client.connection.pool.name`.
 */
export function observeConnectionPool(meter: Meter, poolName: string, pool: ConnectionPoolLike): void {
  const name = { "db.client.connection.pool.name": poolName };
  const count = meter.createObservableUpDownCounter("db.client.connection.count", { description: "Connections in the pool, by state", unit: "{connection}" });
  const max = meter.createObservableUpDownCounter("db.client.connection.max", { description: "Connections the pool may open", unit: "{connection}" });
  const pending = meter.createObservableUpDownCounter("db.client.connection.pending_requests", { description: "Requests waiting for a connection", unit: "{request}" });
  meter.addBatchObservableCallback(
    (result) => {
      result.observe(count, pool.idleCount, { ...name, "db.client.connection.state": "idle" });
      result.observe(count, pool.totalCount - pool.idleCount, { ...name, "db.client.connection.state": "used" });
      result.observe(max, pool.options.max ?? 0, name);
      result.observe(pending, pool.waitingCount, name);
    },
    [count, max, pending],
  );
}

/**
 * An observation that costs a database read, made at most once per `ttlMs`
 * however many readers collect (Prometheus scrapes and the OTLP push share it).
 */
export function cachedReading<T>(read: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= ttlMs) {
      const value = read();
      last = { at: now, value };
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}

export type { Attributes, Meter, ObservableResult };
