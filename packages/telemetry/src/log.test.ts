import { context, trace, TraceFlags } from "@opentelemetry/api";
import { afterAll, afterEach, expect, it, vi } from "vitest";
import { createLogger } from "./log.js";
import { registerTelemetry, shutdownTelemetry } from "./index.js";

// A context manager (as every service has), so a span can be active.
registerTelemetry({ serviceName: "log-test" });
afterAll(() => shutdownTelemetry());

const written = () => {
  const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  return { lines: () => write.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>) };
};

afterEach(() => vi.restoreAllMocks());

it("writes one JSON line per entry: the level by name, the time, the service, the message and the fields", () => {
  const out = written();
  createLogger("ledger", "info").warn({ size: 4 }, "group commit batch refused");
  const [line] = out.lines();
  expect(line).toMatchObject({ level: "warn", service: "ledger", msg: "group commit batch refused", size: 4 });
  expect(new Date(String(line!.time)).toISOString()).toBe(line!.time);
});

it("names the active span's trace and span, so a line leads to its trace", () => {
  const out = written();
  const span = trace.wrapSpanContext({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.SAMPLED });
  context.with(trace.setSpan(context.active(), span), () => createLogger("ledger").error({ err: new Error("boom") }, "metering tick failed"));
  expect(out.lines()[0]).toMatchObject({ trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7", err: { type: "Error", message: "boom" } });
});

it("leaves out what is below LOG_LEVEL, and falls back to info for a level it does not know", () => {
  const out = written();
  const warnings = createLogger("pricing", "warn");
  warnings.info("quiet");
  warnings.error("loud");
  const unknown = createLogger("pricing", "verbose");
  unknown.debug("hidden");
  unknown.info("shown");
  expect(out.lines().map((l) => l.msg)).toEqual(["loud", "shown"]);
});
