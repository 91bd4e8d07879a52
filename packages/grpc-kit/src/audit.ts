import { status, type ServerUnaryCall } from "@grpc/grpc-js";
import { PermissionDeniedError, UnauthenticatedError } from "@tollgate/errors";
import { log } from "@tollgate/telemetry";
import type { Access } from "./access.js";
import type { Principal } from "./credentials.js";
import { traceIdOf } from "./errors.js";

/** One audited call, as the guard reports it after the handler. */
export interface AuditedCall {
  rpc: string;
  principal: string;
  roles: readonly string[];
  onBehalfOf: string | undefined;
  reason: string;
  accountId: string | undefined;
  before: unknown;
  after: unknown;
  traceId: string;
  outcome: string;
}

/** Where the guard writes admin calls and refused ones (e.g. `@tollgate/db`'s `CallAuditLog`). */
export interface CallAudit {
  record(call: AuditedCall): Promise<void>;
  /** Refused calls are counted per caller, RPC and minute, never one row each. */
  refused(call: Omit<AuditedCall, "before" | "after" | "onBehalfOf" | "reason">): Promise<void>;
}

type Call = ServerUnaryCall<unknown, unknown>;
type Fields = Record<string, unknown>;

/** PostgreSQL text cannot hold NUL, which a refused request (or a name acted for) may carry. */
const storable = (value: string): string => value.replaceAll("\u0000", "\uFFFD");
const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? storable(value) : undefined);

/**
 * An http(s) URL by its origin, the path and query elided: for many webhook
 * receivers (a chat's incoming webhook among them) the path is itself the
 * credential. Another string is returned as it is.
 */
export function elidedUrl(value: string): string {
  if (!/^https?:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    return url.pathname === "/" && !url.search ? url.origin : `${url.origin}/…`;
  } catch {
    return "(not a URL)";
  }
}

/**
 * A value as an audit log shows it: a webhook's signing secret as whether it
 * is set, and a URL (a webhook's `url`, a webhook delivery's `recipient`) by
 * its origin, so no one reading the log learns a credential. Applied when a
 * call is recorded and again when rows are read (rows written before the URL
 * rule held them whole).
 */
export function withoutCredentials(value: unknown): unknown {
  return value === null || value === undefined ? value : JSON.parse(JSON.stringify(value, credentialFree));
}

/** withoutCredentials as a JSON.stringify replacer (bigints as their digits). */
function credentialFree(key: string, field: unknown): unknown {
  if (key === "secret") return field ? "(set)" : "";
  if ((key === "url" || key === "recipient") && typeof field === "string") return elidedUrl(field);
  return typeof field === "bigint" ? field.toString() : field;
}

/** The request as recorded, in one pass: no credential (withoutCredentials), and no NUL, which PostgreSQL text cannot hold. */
function summary(request: unknown): unknown {
  return JSON.parse(
    JSON.stringify(request ?? {}, (key, field: unknown) => {
      const shown = credentialFree(key, field);
      return typeof shown === "string" ? storable(shown) : shown;
    }),
  );
}

function accountOf(access: Access, request: Fields, response: Fields | undefined): string | undefined {
  return text((access.account ?? ((r) => r.accountId))(request)) ?? (response && access.audited?.account ? text(access.audited.account(response)) : undefined);
}

/** A call's peer address, without the port (which changes per connection). */
export const peerAddress = (call: Pick<Call, "getPeer">): string =>
  call.getPeer().replace(/^ipv[46]:/, "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");

/** Who a refused call came from: its principal, else its peer's address. */
function callerOf(call: Call, principal: Principal | undefined): string {
  return principal ? principal.name : `address:${peerAddress(call)}`;
}

const statusName = (code: number): string => status[code] ?? String(code);

/** Writes an audited call after its handler answered (failed writes are logged, never change the answer). */
export async function recordCall(audit: CallAudit, path: string, access: Access, call: Call, principal: Principal | undefined, error: { code?: number } | null, response: unknown): Promise<void> {
  const request = (call.request ?? {}) as Fields;
  await audit
    .record({
      rpc: path,
      principal: storable(principal?.name ?? "anonymous"),
      roles: principal?.roles ?? [],
      onBehalfOf: principal?.onBehalfOf === undefined ? undefined : storable(principal.onBehalfOf),
      reason: text(request.reason) ?? "",
      accountId: accountOf(access, request, (response ?? undefined) as Fields | undefined),
      before: null,
      after: summary(request),
      traceId: traceIdOf(call.metadata),
      outcome: error ? statusName(error.code ?? status.UNKNOWN) : "OK",
    })
    .catch((failure: unknown) => log().error({ err: failure, rpc: path }, "could not record the audit of a call"));
}

/** Counts a call the guard refused (no credential, a wrong one, a wrong role or account). */
export async function recordRefusal(audit: CallAudit, path: string, access: Access | undefined, call: Call, principal: Principal | undefined, error: unknown): Promise<void> {
  const denied = error instanceof PermissionDeniedError;
  if (!denied && !(error instanceof UnauthenticatedError)) return;
  const request = (call.request ?? {}) as Fields;
  await audit
    .refused({
      rpc: path,
      principal: storable(callerOf(call, principal)),
      roles: principal?.roles ?? [],
      accountId: access ? accountOf(access, request, undefined) : undefined,
      traceId: traceIdOf(call.metadata),
      outcome: denied ? "PERMISSION_DENIED" : "UNAUTHENTICATED",
    })
    .catch((failure: unknown) => log().error({ err: failure, rpc: path }, "could not record a refused call"));
}
