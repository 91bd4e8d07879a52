/**
 * Domain errors. They say what went wrong in the domain's words and carry a
 * stable reason code; they know nothing of gRPC or HTTP. One mapper at each
 * edge (grpc-kit, the console gateway) turns them into status codes.
 */
export abstract class DomainError extends Error {
  abstract readonly kind:
    | "invalid_argument"
    | "not_found"
    | "already_exists"
    | "failed_precondition"
    | "aborted"
    | "unavailable"
    | "permission_denied"
    | "unauthenticated";
  constructor(
    message: string,
    readonly reason: string,
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request field is missing or wrong. `field` is the request path, e.g. `estimate.model_reply.replies`. */
export class InvalidArgumentError extends DomainError {
  readonly kind = "invalid_argument";
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`, "INVALID_FIELD", { field });
  }
}

export class NotFoundError extends DomainError {
  readonly kind = "not_found";
  constructor(readonly what: string, readonly id: string) {
    // A reason code is upper-case words joined by underscores: "fine-tuning rate" is FINE_TUNING_RATE_NOT_FOUND.
    super(`${what} not found: ${id}`, `${what.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_NOT_FOUND`, { [what]: id });
  }
}

export class AlreadyExistsError extends DomainError {
  readonly kind = "already_exists";
}

/** The same idempotency key was sent with a different request. */
export class IdempotencyKeyReusedError extends AlreadyExistsError {
  constructor(key: string) {
    super(`idempotency key ${key} was already used for a different request`, "IDEMPOTENCY_KEY_REUSED", {
      idempotency_key: key,
    });
  }
}

export class FailedPreconditionError extends DomainError {
  readonly kind = "failed_precondition";
}

/** A transient conflict (serialization failure, deadlock): safe to retry. */
export class ConflictError extends DomainError {
  readonly kind = "aborted";
}

export class UnavailableError extends DomainError {
  readonly kind = "unavailable";
}

/**
 * The database is out of reach for a moment (going, coming, full, or no
 * connection): UNAVAILABLE, which callers retry, in fixed words. The driver's
 * own error, which may name the database's host and port, stays the cause,
 * for the service's log only.
 */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(cause: unknown) {
    super("the database cannot be reached for a moment; retry", "DATABASE_UNAVAILABLE");
    this.cause = cause;
  }
}

export class PermissionDeniedError extends DomainError {
  readonly kind = "permission_denied";
}

export class UnauthenticatedError extends DomainError {
  readonly kind = "unauthenticated";
}

/** Socket errors of a connection that could not be made or was cut. */
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
/** node-postgres's (and pg-pool's) errors for a lost or never-made connection, which carry no code. */
const DRIVER_CONNECTION_MESSAGES = ["Connection terminated unexpectedly", "Connection terminated due to connection timeout", "timeout exceeded when trying to connect"];

/**
 * Translates Postgres SQLSTATEs into domain errors, in one place.
 * 23505 unique violation, 40001 serialization failure, 40P01 deadlock;
 * a database that is shutting down, starting, out of connections or lost
 * (57P01–57P03, 53300, 08xxx) is UNAVAILABLE, which callers retry, and so is
 * one the driver cannot reach or lost the connection to (a socket error such
 * as ECONNREFUSED, or node-postgres's own connection messages); P0001 is
 * raised by our own SQL functions with
 * a "REASON: message" text. Anything else is returned unchanged.
 */
export function translateDatabaseError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message;
  if (typeof message === "string" && DRIVER_CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return new DatabaseUnavailableError(error);
  if (typeof code !== "string") return error;
  if (SOCKET_ERRORS.has(code)) return new DatabaseUnavailableError(error);
  switch (code) {
    case "23505":
      return new AlreadyExistsError(message, "DUPLICATE");
    case "40001":
    case "40P01":
      return new ConflictError(message, code === "40001" ? "SERIALIZATION_FAILURE" : "DEADLOCK");
    case "57P01": // admin_shutdown: a fast shutdown ended the session
    case "57P02": // crash_shutdown
    case "57P03": // cannot_connect_now: starting up or shutting down
    case "53300": // too_many_connections
    case "08000":
    case "08001":
    case "08004":
    case "08003":
    case "08006":
      return new DatabaseUnavailableError(error);
    case "P0001": {
      const match = /([A-Z_]+): (.*)$/s.exec(message);
      if (!match) return error;
      const [, reason, detail] = match as unknown as [string, string, string];
      if (reason === "IDEMPOTENCY_KEY_REUSED") return new IdempotencyKeyReusedError(detail);
      if (reason === "NOT_FOUND") {
        const [what, ...id] = detail.split(" ");
        return new NotFoundError(what ?? "resource", id.join(" "));
      }
      if (reason.startsWith("INVALID_")) return new InvalidArgumentError(reason.slice("INVALID_".length).toLowerCase(), detail);
      return new FailedPreconditionError(detail, reason);
    }
    default:
      return error;
  }
}
