import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { DomainError, InvalidArgumentError, translateDatabaseError } from "@tollgate/errors";
import { googleProtobufAny, googleRpcErrorDetails, googleRpcStatus } from "@tollgate/proto";

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

/**
 * The one place where errors become gRPC statuses. Domain errors keep their
 * reason in a google.rpc.ErrorInfo (and the field in a google.rpc.BadRequest);
 * anything unexpected becomes INTERNAL without leaking its message.
 */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const translated = translateDatabaseError(error);
  if (!(translated instanceof DomainError)) {
    return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
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
  const raw = serviceError.metadata?.get(DETAILS_KEY)[0];
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
