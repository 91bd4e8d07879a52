import { trace, isSpanContextValid } from "@opentelemetry/api";
import { pino, stdTimeFunctions, type Logger } from "pino";

export type { Logger };

/** The levels LOG_LEVEL accepts (@tollgate/config checks it at boot). */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * A service's logger: one JSON object per line on stdout (pino), with
 * `level` by name, an ISO `time`, the `service`, the `msg`, and the active
 * span's `trace_id` and `span_id` when there is one, so a line leads to its
 * trace. Lines below LOG_LEVEL (default `info`) are not written. An error goes
 * under `err` with its type, message and stack: `log.error({ err }, "…")`.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  // Through process.stdout (not a file descriptor of its own): lines keep their order with anything else the process prints.
  return pino({
    level: (LOG_LEVELS as readonly string[]).includes(level) ? level : "info",
    base: { service },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  }, process.stdout);
}

let processService = "tollgate";
let processLog: Logger | undefined;

/** Names the service the process logger speaks for (registerTelemetry does, before anything logs). */
export function setLogService(service: string): void {
  processService = service;
  processLog = undefined;
}

/** The process's logger: what shared code (grpc-kit, the stores) logs through, labelled with the process's service. */
export function log(): Logger {
  return (processLog ??= createLogger(processService));
}
