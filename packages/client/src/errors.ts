import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { googleRpcErrorDetails, googleRpcStatus, ledgerV1 } from "@tollgate/proto";

/** Where a Tollgate server puts its google.rpc.Status (ErrorInfo, BadRequest, RetryInfo). */
const DETAILS_KEY = "grpc-status-details-bin";

/** A gRPC status code by name, e.g. "INVALID_ARGUMENT". */
export type CodeName = keyof typeof status;

export interface FieldViolation {
  /** The request path in the contract's names, e.g. `estimate.model_reply.replies` or `hold_id`. */
  field: string;
  description: string;
  reason: string;
}

/**
 * Everything the client raises: `kind` says which. `rpc` is an error status
 * from the platform (or from the transport), `denied` an answer that refused
 * the work (Authorize or StartRun with `allowed = false`).
 */
export abstract class TollgateError extends Error {
  abstract readonly kind: "rpc" | "denied";
  constructor(
    message: string,
    /** A stable reason code: google.rpc.ErrorInfo's reason for `rpc` ("" when the server gave none), the denial reason for `denied`. */
    readonly reason: string,
    /** google.rpc.ErrorInfo's metadata, e.g. `{ role: "meter" }` on ROLE_REQUIRED. */
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A gRPC error status, with the structured details a Tollgate service attaches. */
export class RpcError extends TollgateError {
  readonly kind = "rpc";
  /** The first field violation's field (INVALID_ARGUMENT), else undefined. */
  readonly field: string | undefined;
  /** The id of the server's trace for an INTERNAL answer ("internal error (trace …)"). */
  readonly traceId: string | undefined;
  /**
   * The idempotency key a mutating call sent, the one the client made for it included: after an error that leaves the outcome
   * unknown (DEADLINE_EXCEEDED, UNAVAILABLE once retries ran out), the same call with this key is done at most once.
   */
  idempotencyKey: string | undefined;
  constructor(
    readonly code: status,
    message: string,
    reason: string,
    metadata: Record<string, string>,
    readonly fieldViolations: readonly FieldViolation[] = [],
    /** How long the server asked to wait before a retry (google.rpc.RetryInfo). */
    readonly retryDelayMs?: number,
  ) {
    super(message, reason, metadata);
    this.field = fieldViolations[0]?.field;
    this.traceId = code === status.INTERNAL ? /\(trace ([0-9a-f]+)\)/.exec(message)?.[1] : undefined;
  }
  get codeName(): CodeName {
    return (status[this.code] ?? "UNKNOWN") as CodeName;
  }
}

export class InvalidArgumentError extends RpcError {}
export class NotFoundError extends RpcError {}
/** ALREADY_EXISTS; reason IDEMPOTENCY_KEY_REUSED when a key was sent again with another request. */
export class AlreadyExistsError extends RpcError {}
export class FailedPreconditionError extends RpcError {}
export class PermissionDeniedError extends RpcError {}
export class UnauthenticatedError extends RpcError {}
/** A transient conflict on the server (serialization failure, deadlock): retried with the same key. */
export class AbortedError extends RpcError {}
/** The caller's rate limit (reason RATE_LIMITED, with a retry delay). */
export class ResourceExhaustedError extends RpcError {}
export class UnavailableError extends RpcError {}
export class DeadlineExceededError extends RpcError {}
export class CancelledError extends RpcError {}
/** INTERNAL, UNKNOWN and anything else: a fault on the other side, not the caller's. */
export class InternalError extends RpcError {}

const CLASSES: Partial<Record<status, typeof RpcError>> = {
  [status.INVALID_ARGUMENT]: InvalidArgumentError,
  [status.OUT_OF_RANGE]: InvalidArgumentError,
  [status.NOT_FOUND]: NotFoundError,
  [status.ALREADY_EXISTS]: AlreadyExistsError,
  [status.FAILED_PRECONDITION]: FailedPreconditionError,
  [status.PERMISSION_DENIED]: PermissionDeniedError,
  [status.UNAUTHENTICATED]: UnauthenticatedError,
  [status.ABORTED]: AbortedError,
  [status.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
  [status.UNAVAILABLE]: UnavailableError,
  [status.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [status.CANCELLED]: CancelledError,
};

/** The denial reasons of Authorize, StartRun and Deploy (the contract's enum), without their prefix: "INSUFFICIENT_CREDITS". */
export type DenialReason = keyof typeof ledgerV1.DenialReason extends infer Name ? (Name extends `DENIAL_REASON_${infer Reason}` ? Reason : never) : never;

export function denialReasonName(reason: ledgerV1.DenialReason): DenialReason {
  return ledgerV1.denialReasonToJSON(reason).replace(/^DENIAL_REASON_/, "") as DenialReason;
}

/** The platform refused the work: `reason` says why, `message` says it in words (amount needed, available, limit). */
export class DeniedError extends TollgateError {
  readonly kind = "denied";
  constructor(
    override readonly reason: DenialReason,
    message: string,
    /** What was available (balance less open holds), when the balance was consulted. */
    readonly availableMicros: bigint = 0n,
    /** Denied with nothing left, but the kind allows saving the work as a draft only (the plan's drafts_at_zero). */
    readonly draftsOnly = false,
  ) {
    super(message || `denied: ${reason}`, reason);
  }
}

/** A status the client itself answers (no call made), with its reason as a server's would carry it, so decodeError reads it alike. */
export function clientStatus(code: status, message: string, reason: string): { code: status; details: string; metadata: Metadata } {
  const info = googleRpcErrorDetails.ErrorInfo.encode({ reason, domain: "tollgate", metadata: {} }).finish();
  const details = [{ typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value: Buffer.from(info) }];
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(googleRpcStatus.Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata };
}

/**
 * The typed error for a gRPC error: its code, the google.rpc.ErrorInfo reason
 * and metadata, the google.rpc.BadRequest field violations and the
 * google.rpc.RetryInfo delay, as grpc-kit's toServiceError and the rate
 * limiter encode them. Anything that is not a gRPC error is returned as is.
 */
export function decodeError(error: unknown): unknown {
  if (error instanceof TollgateError) return error;
  const serviceError = error as Partial<ServiceError>;
  if (typeof serviceError?.code !== "number") return error;
  let reason = "";
  let metadata: Record<string, string> = {};
  let fieldViolations: FieldViolation[] = [];
  let retryDelayMs: number | undefined;
  const raw = serviceError.metadata?.get(DETAILS_KEY)[0];
  if (raw instanceof Uint8Array) {
    let details: googleRpcStatus.Status["details"] = [];
    try {
      details = googleRpcStatus.Status.decode(raw).details;
    } catch {
      // Not a google.rpc.Status: keep the code and message.
    }
    for (const detail of details) {
      const type = detail.typeUrl.slice(detail.typeUrl.lastIndexOf("/") + 1);
      if (type === "google.rpc.ErrorInfo") {
        const info = googleRpcErrorDetails.ErrorInfo.decode(detail.value);
        reason = info.reason;
        metadata = info.metadata;
      } else if (type === "google.rpc.BadRequest") {
        fieldViolations = googleRpcErrorDetails.BadRequest.decode(detail.value).fieldViolations.map(({ field, description, reason }) => ({ field, description, reason }));
      } else if (type === "google.rpc.RetryInfo") {
        const delay = googleRpcErrorDetails.RetryInfo.decode(detail.value).retryDelay;
        if (delay) retryDelayMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1_000_000);
      }
    }
  }
  const Class = CLASSES[serviceError.code as status] ?? InternalError;
  const message = serviceError.details || serviceError.message || status[serviceError.code] || "error";
  return new Class(serviceError.code, message, reason, metadata, fieldViolations, retryDelayMs);
}
