import type { ApiErrorBody } from "./api-types";

/**
 * An error answer of the gateway. Shaped like react-admin's HttpError
 * (`message`, `status`, `body`) so react-admin's notifications and
 * `authProvider.checkError` read it, without pulling react-admin into the
 * data layer.
 */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: { code?: string; field?: string; reason?: string; message: string; errors?: Record<string, string>; traceId?: string },
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Where the console keeps the gateway token (a host may put its own there, or pass `getToken`). */
export const TOKEN_KEY = "tollgate.token";
export const USER_KEY = "tollgate.user";

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** The parsed JSON body (undefined when the answer had none). */
  json: unknown;
  headers?: Headers;
}

/**
 * What the data provider calls for every request. It answers with the status
 * and body of any HTTP answer (errors included) and throws only when there was
 * no answer at all; the provider turns 4xx/5xx answers into `HttpError`s.
 */
export type HttpClient = (url: string, request: HttpRequest) => Promise<HttpResponse>;

export const fetchHttpClient: HttpClient = async (url, request) => {
  const response = await fetch(url, request);
  const text = await response.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: { status: response.status, code: "BAD_RESPONSE", message: text.slice(0, 200) } };
    }
  }
  return { status: response.status, json, headers: response.headers };
};

export function storedToken(): string | null {
  try {
    return globalThis.localStorage?.getItem(TOKEN_KEY) ?? null;
  } catch {
    return null;
  }
}

/** The gateway's error as react-admin's HttpError: message from the API, `body` keeps code, field, reason and the answer's trace id. */
export function toHttpError(status: number, json: unknown, headers?: Headers): HttpError {
  const error = (json as Partial<ApiErrorBody> | undefined)?.error;
  const message = error?.message || `Request failed (${status})`;
  const traceId = headers?.get("x-trace-id") ?? undefined;
  return new HttpError(message, status, {
    code: error?.code,
    field: error?.field,
    reason: error?.reason,
    message,
    ...(error?.field ? { errors: { [error.field]: message } } : {}),
    ...(traceId ? { traceId } : {}),
  });
}

/**
 * What a record page says when its record cannot be read: react-admin's
 * "does not exist" and a return to the list only when the gateway said so
 * (404); any other failure is said as it is, with its trace id for support,
 * and the page stays.
 */
export function recordLoadFailure(error: unknown): { notFound: boolean; message: string } {
  const status = (error as { status?: number })?.status;
  if (status === 404) return { notFound: true, message: "ra.notification.item_doesnt_exist" };
  const { message } = describeError(error);
  const traceId = (error as { body?: { traceId?: string } })?.body?.traceId;
  const what = `This page could not be loaded: ${message}${status ? ` (HTTP ${status})` : ""}`;
  return { notFound: false, message: traceId ? `${what}, trace ${traceId}. Try again, or report the trace.` : `${what}. Try again.` };
}

/** Reads what the UI needs out of any error thrown by the data provider. */
export function describeError(error: unknown): { message: string; field?: string; code?: string; status?: number } {
  if (error && typeof error === "object" && "status" in error) {
    const e = error as { message?: string; status?: number; body?: { field?: string; code?: string } };
    return { message: e.message || "Request failed", field: e.body?.field, code: e.body?.code, status: e.status };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}
