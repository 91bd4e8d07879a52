import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { trace } from "@opentelemetry/api";
import { DatabaseUnavailableError, DomainError, InvalidArgumentError, translateDatabaseError } from "@tollgate/errors";
import { googleProtobufAny, googleRpcErrorDetails, googleRpcStatus } from "@tollgate/proto";
import { log } from "@tollgate/telemetry";

const DOMAIN = "tollgate";
const DETAILS_KEY = "grpc-status-details-bin";

const CODES: Record<DomainError["kind"], status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  aborted: status.ABORTED,
  unavailable: status.UNAVAILABLE,
  permission_denied: status.PERMISSION_DENIED,
  unauthenticated: status.UNAUTHENTICATED,
};

function any(typeName: string, value: Uint8Array): googleProtobufAny.Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}

/** The active span's trace id, or "" (no span, or a span of no trace: all zeros). */
export function activeTraceId(): string {
  const active = trace.getActiveSpan()?.spanContext().traceId;
  return active && !/^0+$/.test(active) ? active : "";
}

/** The call's trace id: the active span's, else the one in the caller's `traceparent` header, else "". */
export function traceIdOf(metadata: { get(key: string): unknown[] }): string {
  const active = activeTraceId();
  if (active) return active;
  const traceparent = metadata.get("traceparent")[0];
  return typeof traceparent === "string" ? (/^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(traceparent)?.[1] ?? "") : "";
}

/** Logs a bug (what became, or will become, an INTERNAL): one JSON line with its message, stack and trace id. */
export function logInternal(error: unknown, traceId: string, message = "internal error", fields: Record<string, unknown> = {}): void {
  log().error({ error: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined, trace_id: traceId, ...fields }, message);
}

/**
 * The one place where errors become gRPC statuses. Domain errors keep their
 * reason in a google.rpc.ErrorInfo (and the field in a google.rpc.BadRequest);
 * anything unexpected becomes INTERNAL without leaking its message, and is
 * logged (one JSON line, the process logger's) with its stack and the call's trace id.
 */
export function toServiceError(error: unknown, traceId: () => string = () => ""): Partial<ServiceError> {
  const translated = translateDatabaseError(error);
  if (!(translated instanceof DomainError)) {
    const id = traceId();
    logInternal(error, id);
    return { code: status.INTERNAL, details: id ? `internal error (trace ${id})` : "internal error", metadata: new Metadata() };
  }
  // Answered in fixed words; what the driver said (host and port among it) is for the log.
  if (translated instanceof DatabaseUnavailableError) {
    const cause = translated.cause;
    log().warn({ error: cause instanceof Error ? cause.message : String(cause), trace_id: traceId() }, "database unavailable");
  }
  const details: googleProtobufAny.Any[] = [
    any(
      "google.rpc.ErrorInfo",
      googleRpcErrorDetails.ErrorInfo.encode({ reason: translated.reason, domain: DOMAIN, metadata: translated.metadata }).finish(),
    ),
  ];
  if (translated instanceof InvalidArgumentError) {
    details.push(
      any(
        "google.rpc.BadRequest",
        googleRpcErrorDetails.BadRequest.encode({
          fieldViolations: [{ field: translated.field, description: translated.message, reason: translated.reason }],
        }).finish(),
      ),
    );
  }
  const code = CODES[translated.kind];
  const metadata = new Metadata();
  metadata.set(
    DETAILS_KEY,
    Buffer.from(googleRpcStatus.Status.encode({ code, message: translated.message, details }).finish()),
  );
  return { code, details: translated.message, metadata };
}

/** Downstream codes passed on as they are; an UNAUTHENTICATED or PERMISSION_DENIED answer to this service is its own fault, not its caller's. */
const PASSED_ON: Partial<Record<status, DomainError["kind"]>> = {
  [status.INVALID_ARGUMENT]: "invalid_argument",
  [status.NOT_FOUND]: "not_found",
  [status.FAILED_PRECONDITION]: "failed_precondition",
  [status.ABORTED]: "aborted",
  [status.UNAVAILABLE]: "unavailable",
  [status.DEADLINE_EXCEEDED]: "unavailable",
};

/**
 * A Tollgate service's error as this service's domain error of the same kind
 * (NOT_FOUND stays NOT_FOUND, with its reason and metadata), so a
 * downstream answer is never lost as INTERNAL. Deadlines and lost
 * connections are UNAVAILABLE; anything else is returned unchanged.
 */
export function fromServiceError(error: unknown): unknown {
  const code = (error as ServiceError)?.code;
  if (typeof code !== "number") return error;
  const details = errorDetails(error);
  const kind = PASSED_ON[code as status];
  if (!kind) return error;
  const field = details.fieldViolations[0]?.field;
  if (kind === "invalid_argument" && field) return new InvalidArgumentError(field, details.fieldViolations[0]!.description.replace(`${field}: `, ""));
  return new UpstreamError(kind, details.message, details.reason ?? code.toString(), details.metadata);
}

/**
 * A service's refusal that names a field of its request (INVALID_ARGUMENT's
 * field, or the `field` of another refusal's metadata), re-raised as
 * fromServiceError does with the field renamed by `rename`: to the caller's
 * own name for it, e.g. a gateway route's body field. Other errors, and a
 * field `rename` keeps (undefined), are returned as they are.
 */
export function renameField(error: unknown, rename: (field: string) => string | undefined): unknown {
  const domain = fromServiceError(error);
  if (!(domain instanceof DomainError)) return error;
  const field = domain instanceof InvalidArgumentError ? domain.field : domain.metadata.field;
  const renamed = field === undefined ? undefined : rename(field);
  if (renamed === undefined || renamed === field) return error;
  if (domain instanceof InvalidArgumentError) return new InvalidArgumentError(renamed, domain.problem);
  return new UpstreamError(domain.kind, domain.message, domain.reason, { ...domain.metadata, field: renamed });
}

/** A call to another Tollgate service whose error, if any, is re-raised here by fromServiceError. */
export function upstream<T>(pending: Promise<T>): Promise<T> {
  return pending.catch((error: unknown) => {
    throw fromServiceError(error);
  });
}

/** A downstream service's domain error, re-raised here with its kind, reason and metadata. */
class UpstreamError extends DomainError {
  constructor(readonly kind: DomainError["kind"], message: string, reason: string, metadata: Record<string, string>) {
    super(message, reason, metadata);
  }
}

export interface ErrorDetails {
  code: status;
  message: string;
  reason?: string;
  metadata: Record<string, string>;
  fieldViolations: { field: string; description: string }[];
  /** From a google.rpc.RetryInfo: how long the server asked to wait. */
  retryDelayMs?: number;
}

/** Reads the structured details a Tollgate server attached to an error. */
export function errorDetails(error: unknown): ErrorDetails {
  const serviceError = error as ServiceError;
  const result: ErrorDetails = {
    code: serviceError.code,
    message: serviceError.details,
    metadata: {},
    fieldViolations: [],
  };
  // Only a gRPC error carries Metadata; anything else (a domain error's plain `metadata`) has no details to read.
  const raw = typeof serviceError.metadata?.get === "function" ? serviceError.metadata.get(DETAILS_KEY)[0] : undefined;
  if (!raw || typeof raw === "string") return result;
  const decoded = googleRpcStatus.Status.decode(raw);
  for (const detail of decoded.details) {
    if (detail.typeUrl.endsWith("google.rpc.ErrorInfo")) {
      const info = googleRpcErrorDetails.ErrorInfo.decode(detail.value);
      result.reason = info.reason;
      result.metadata = info.metadata;
    } else if (detail.typeUrl.endsWith("google.rpc.RetryInfo")) {
      const delay = googleRpcErrorDetails.RetryInfo.decode(detail.value).retryDelay;
      if (delay) result.retryDelayMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1_000_000);
    } else if (detail.typeUrl.endsWith("google.rpc.BadRequest")) {
      result.fieldViolations = googleRpcErrorDetails.BadRequest.decode(detail.value).fieldViolations;
    }
  }
  return result;
}
