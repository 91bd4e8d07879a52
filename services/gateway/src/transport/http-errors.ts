import { status } from "@grpc/grpc-js";
import { DomainError, InvalidArgumentError } from "@tollgate/errors";
import { errorDetails, type ErrorDetails } from "@tollgate/grpc-kit";
import type { FastifyReply } from "fastify";

const HTTP_BY_GRPC: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.FAILED_PRECONDITION]: 409,
  [status.ABORTED]: 409,
  // Not a rate limit (those are 429, see rateLimited): a limit no retry gets past, such as an answer over the message size limit.
  [status.RESOURCE_EXHAUSTED]: 503,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

const HTTP_BY_KIND: Record<DomainError["kind"], number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  aborted: 409,
  unavailable: 503,
};

const REFUSALS: { kinds: DomainError["kind"][]; codes: status[] } = {
  kinds: ["invalid_argument", "not_found", "failed_precondition", "permission_denied"],
  codes: [status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.NOT_FOUND, status.FAILED_PRECONDITION, status.PERMISSION_DENIED],
};

/**
 * A refusal of what was sent (bad input, nothing by that name, a state that forbids it, a role that may not): the
 * call did nothing. A timeout or an unavailable service does not say, and a conflict may be another request's.
 */
export function refusedAsSent(error: unknown): boolean {
  if (error instanceof DomainError) return REFUSALS.kinds.includes(error.kind);
  return REFUSALS.codes.includes(errorDetails(error).code);
}

export interface HttpError {
  status: number;
  /** Headers the answer carries besides its body (`retry-after`). */
  headers?: Record<string, string>;
  body: { error: { status: number; code: string; message: string; field?: string; reason?: string } };
}

/** A service's rate limiter refused the call (RESOURCE_EXHAUSTED, reason RATE_LIMITED or a RetryInfo): worth retrying after the delay. */
const rateLimited = (details: ErrorDetails) =>
  details.code === status.RESOURCE_EXHAUSTED && (details.reason === "RATE_LIMITED" || details.retryDelayMs !== undefined);

/** Answers with an error, its headers (`retry-after`) and its body. */
export const sendHttpError = (reply: FastifyReply, http: HttpError): FastifyReply => reply.status(http.status).headers(http.headers ?? {}).send(http.body);

/** A limit of the gateway's own was reached: 429, to be retried after `seconds` (its `Retry-After`). */
export function tooManyRequests(seconds: number, reason: string, message: string): HttpError {
  return {
    status: 429,
    headers: { "retry-after": String(seconds) },
    body: { error: { status: 429, code: "RESOURCE_EXHAUSTED", reason, message } },
  };
}

/**
 * What the console is told when a call failed on the way rather than in a
 * service (no reason of a service's): grpc-js's own words name internal
 * addresses and timings (`… remote_addr=127.0.0.1:50053`, `connect ECONNREFUSED …`).
 */
const TRANSPORT_MESSAGES: Partial<Record<number, string>> = {
  [status.UNAVAILABLE]: "a service is unreachable for a moment: try again shortly (a retry with the same Idempotency-Key acts once)",
  [status.DEADLINE_EXCEEDED]: "a service did not answer in time: try again (a retry with the same Idempotency-Key acts once)",
};

/** Codes for the HTTP framework's own 4xx answers (malformed JSON, a body too large, a path the static files refuse). */
const CODE_BY_HTTP: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  413: "PAYLOAD_TOO_LARGE",
  408: "REQUEST_TIMEOUT",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RESOURCE_EXHAUSTED",
  431: "HEADERS_TOO_LARGE",
};

/**
 * The `field` of an answer: as the API names it. Every list's `page_size`
 * and `page_token` query parameters are its request's `page.page_size` and
 * `page.page_token`; a route whose body names a field otherwise renames it
 * itself (renameField).
 */
function fieldOf(field: string | undefined): { field?: string } {
  return field === undefined ? {} : { field: asQueried(field) };
}

/** A field, or a message that begins with one (`page.page_token: …`), as the API's query names it (`page_token`). */
const asQueried = (text: string): string => text.replace(/^page\.(page_size|page_token)(?=$|:)/, "$1");

/**
 * The one place where errors become HTTP answers: the gateway's own, those of
 * the services it called, and the framework's (which keep their 4xx status).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof DomainError) {
    const code = HTTP_BY_KIND[error.kind];
    return {
      status: code,
      body: { error: { status: code, code: error.kind.toUpperCase(), message: asQueried(error.message), reason: error.reason, ...fieldOf(error instanceof InvalidArgumentError ? error.field : error.metadata.field) } },
    };
  }
  if (typeof (error as { code?: unknown })?.code === "number" && "metadata" in (error as object)) {
    const details = errorDetails(error);
    const limited = rateLimited(details);
    const code = limited ? 429 : (HTTP_BY_GRPC[details.code] ?? 500);
    return {
      status: code,
      ...(limited && details.retryDelayMs !== undefined ? { headers: { "retry-after": String(Math.ceil(details.retryDelayMs / 1000)) } } : {}),
      body: {
        error: {
          status: code,
          code: status[details.code] ?? "UNKNOWN",
          message: code === 500 ? "internal error" : (details.reason ? undefined : TRANSPORT_MESSAGES[details.code]) ?? asQueried(details.message),
          // A refusal of another kind may name its field too (FAILED_PRECONDITION's `field` in its metadata).
          ...fieldOf(details.fieldViolations[0]?.field ?? details.metadata.field),
          ...(details.reason ? { reason: details.reason } : {}),
        },
      },
    };
  }
  const frameworkStatus = (error as { statusCode?: unknown })?.statusCode;
  if (typeof frameworkStatus === "number" && frameworkStatus >= 400 && frameworkStatus < 500) {
    const code = CODE_BY_HTTP[frameworkStatus] ?? "INVALID_ARGUMENT";
    return { status: frameworkStatus, body: { error: { status: frameworkStatus, code, message: (error as Error).message } } };
  }
  return { status: 500, body: { error: { status: 500, code: "INTERNAL", message: "internal error" } } };
}

/**
 * A request Node's HTTP parser refused before any route saw it (headers over
 * 16 KB, a long query string among them; a control character in a header; a
 * request that took too long to arrive), as the raw HTTP answer in the API's
 * error shape; undefined when the connection is gone and nothing can be said.
 */
export function clientErrorAnswer(error: Error & { code?: string }): string | undefined {
  if (error.code === "ECONNRESET") return undefined;
  const [status, reason, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "the request's headers, its URL and query string among them, exceed 16 KB"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "the request did not arrive in time"]
        : [400, "Bad Request", `the request is not valid HTTP (${error.code ?? "unreadable"})`];
  const body = JSON.stringify({ error: { status, code: CODE_BY_HTTP[status], message } });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
