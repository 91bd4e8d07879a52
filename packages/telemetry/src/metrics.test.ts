import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { startMetrics } from "./metrics.js";

afterEach(() => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
});

it("serves the service's instruments at /metrics on a free port, and pushes nothing over OTLP unless asked", async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const metrics = await startMetrics({ serviceName: "metrics-test", port: 0 });
  try {
    expect(metrics.port).toBeGreaterThan(0);
    metrics.meter.createCounter("tollgate.test.calls").add(3, { "tollgate.unit": "credits" });
    const text = await (await fetch(metrics.url)).text();
    expect(text).toMatch(/^tollgate_test_calls_total\{[^}]*tollgate_unit="credits"[^}]*\} 3$/m);
    expect(text).toContain('service_name="metrics-test"');
  } finally {
    await metrics.shutdown();
  }
});

it("also pushes the same instruments over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set", async () => {
  const received: { path: string; type: string; bytes: number }[] = [];
  const collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ path: request.url ?? "", type: String(request.headers["content-type"]), bytes: Buffer.concat(chunks).length });
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  const metrics = await startMetrics({ serviceName: "metrics-test", port: 0 });
  metrics.meter.createCounter("tollgate.test.calls").add(1);
  await metrics.shutdown(); // a last export on the way out
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ path: "/v1/metrics", type: "application/x-protobuf" });
  expect(received[0]!.bytes).toBeGreaterThan(0);
});

it("serves the runtime's own: garbage collection by kind, event-loop delay and heap use", async () => {
  const metrics = await startMetrics({ serviceName: "metrics-test", port: 0 });
  try {
    // Enough short-lived garbage for the young generation to be collected at least once.
    let kept = 0;
    for (let i = 0; i < 400_000; i++) kept += { i, text: `garbage ${i}` }.text.length;
    expect(kept).toBeGreaterThan(0);
    // The event-loop delay is sampled by a timer: on a busy machine its first samples may take a while, so read until all three are there.
    const wanted = [
      /^v8js_gc_duration_count\{[^}]*v8js_gc_type="minor"[^}]*\} [1-9]\d*$/m,
      /^nodejs_eventloop_delay_max\{[^}]*\} \d/m,
      /^v8js_memory_heap_used\{[^}]*v8js_heap_space_name="new_space"[^}]*\} [1-9]/m,
    ];
    let text = "";
    for (let attempt = 0; attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      text = await (await fetch(metrics.url)).text();
      if (wanted.every((pattern) => pattern.test(text))) break;
    }
    for (const pattern of wanted) expect(text).toMatch(pattern);
  } finally {
    await metrics.shutdown();
  }
});
